"""The ``mixsynth`` command line: the only module that parses arguments or prints for people.

Everything goes through :func:`main`, which takes the arguments as a list and returns the exit
code, so the command line is tested in-process. Reports go to stdout; progress bars, warnings
and errors to stderr. A user mistake prints one line, ``mixsynth: error: ...``; the traceback
only with ``-v``. Heavy modules (numpy, scikit-learn, matplotlib) are imported inside the
commands, so ``mixsynth --help`` answers at once.

Exit codes (the BSD ``sysexits.h`` values where one fits)::

    0    success
    1    internal error (a bug: please report it with the output of -v), or another failure
    2    usage error: unknown command or option, invalid value
    65   bad data: the input or the model file is not valid (EX_DATAERR)
    66   missing or unreadable input (EX_NOINPUT)
    73   cannot create output: it exists (use --force), no permission, disk full (EX_CANTCREAT)
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import contextlib
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import click

from mixsynth._version import __version__
from mixsynth.io.atomic import OutputError

__all__ = [
    "EXIT_CANTCREAT",
    "EXIT_DATAERR",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_NOINPUT",
    "EXIT_OK",
    "EXIT_USAGE",
    "main",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_DATAERR = 65
EXIT_NOINPUT = 66
EXIT_CANTCREAT = 73
EXIT_INTERRUPTED = 130

# "\b" keeps click from re-wrapping the table.
_EPILOG = """\b
Exit codes:
  0    success
  1    internal error (please report it with the output of -v)
  2    usage error
  65   bad data (invalid input or model file)
  66   missing or unreadable input
  73   cannot create output (exists: use --force; no permission; disk full)
  130  interrupted
"""


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


@dataclass
class _Settings:
    """What -q, -v and --no-progress asked for; shared by the group and its commands."""

    quiet: bool = False
    verbose: bool = False
    progress: bool = True
    bar: Any = field(default=None, repr=False)  # the live tqdm bar, to print around it

    @property
    def show_progress(self) -> bool:
        return self.progress and not self.quiet and _is_terminal(sys.stderr)

    def report(self, text: str) -> None:
        """A line of the report, on stdout; silenced by -q."""
        if not self.quiet:
            click.echo(text)

    def err(self, text: str) -> None:
        """A line on stderr that does not tear a progress bar."""
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            click.echo(text, err=True)


def _set(name: str, value: bool) -> Callable[[click.Context, click.Parameter, bool], None]:
    def callback(ctx: click.Context, param: click.Parameter, flag: bool) -> None:
        if flag:
            setattr(ctx.ensure_object(_Settings), name, value)

    return callback


def _common_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """-q / -v / --no-progress, accepted before and after the command name."""
    f = click.option("--no-progress", is_flag=True, expose_value=False,
                     callback=_set("progress", False),
                     help="No progress bars (off anyway when stderr is not a terminal).")(f)
    f = click.option("-v", "--verbose", is_flag=True, expose_value=False,
                     callback=_set("verbose", True),
                     help="More detail on stderr, and the traceback of an error.")(f)
    f = click.option("-q", "--quiet", is_flag=True, expose_value=False,
                     callback=_set("quiet", True),
                     help="Print only warnings and errors; no report, no progress.")(f)
    return f


def _describe_candidate(candidate: Any) -> str:
    parts = [f"K={getattr(candidate, 'n_components', '?')}"]
    covariance = getattr(candidate, "covariance_type", None)
    if covariance is not None:
        parts.append(str(covariance))
    seconds = getattr(candidate, "fit_time", None)
    if isinstance(seconds, int | float):
        parts.append(f"{seconds:.1f} s")
    return " ".join(parts)


@contextlib.contextmanager
def _candidate_progress(settings: _Settings) -> Iterator[Callable[[int, int, Any], None] | None]:
    """A ``progress(done, total, candidate)`` callback: a bar, log lines with -v, or None."""
    if settings.show_progress:
        from tqdm import tqdm

        bar = tqdm(desc="fitting", unit="candidate", file=sys.stderr, dynamic_ncols=True)
        settings.bar = bar

        def update(done: int, total: int, candidate: Any) -> None:
            if bar.total != total:
                bar.total = total
            bar.set_postfix_str(_describe_candidate(candidate), refresh=False)
            bar.update(done - bar.n)

        try:
            yield update
        finally:
            settings.bar = None
            bar.close()
    elif settings.verbose:

        def log(done: int, total: int, candidate: Any) -> None:
            settings.err(f"mixsynth: fitted candidate {done}/{total}: "
                         f"{_describe_candidate(candidate)}")

        yield log
    else:
        yield None


@contextlib.contextmanager
def _warnings_to_stderr(settings: _Settings) -> Iterator[None]:
    """Show each warning as one ``mixsynth: warning: ...`` line on stderr."""

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        text = f"mixsynth: warning: {_one_line(str(message))}"
        if settings.verbose:
            text += f" ({category.__name__}, {filename}:{lineno})"
        settings.err(text)

    with warnings.catch_warnings():
        if not sys.warnoptions:  # -W and PYTHONWARNINGS still win, as the warnings docs advise
            warnings.simplefilter("default")
        warnings.showwarning = show
        yield


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=_EPILOG,
)
@click.version_option(__version__, "-V", "--version", prog_name="mixsynth",
                      message="%(prog)s %(version)s")
@_common_options
def cli() -> None:
    """Learn a data set's distribution with a Gaussian mixture and generate new rows from it."""


@cli.group(epilog=_EPILOG)
def demo() -> None:
    """Worked examples, end to end."""


@demo.command("digits", epilog=_EPILOG)
@click.option("--out", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for digits.png, aic.png and new_digits.png (created if missing).")
@click.option("--quick", is_flag=True,
              help="Try K = 2, 4, 6 instead of 50..200: seconds instead of minutes.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the fits and of the new digits.")
@click.option("--force", is_flag=True, help="Overwrite figures that exist.")
@_common_options
@click.pass_context
def demo_digits(ctx: click.Context, out_dir: Path, quick: bool, seed: int, force: bool) -> None:
    """Fit a mixture to scikit-learn's 8x8 digits, choose K by AIC, draw 100 new digits."""
    from mixsynth.demo import run_digits_demo

    settings = ctx.ensure_object(_Settings)
    with _candidate_progress(settings) as progress:
        run_digits_demo(out_dir, quick=quick, seed=seed, overwrite=force,
                        echo=settings.report, progress=progress)


def _classify(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an exception from a command."""
    if isinstance(exc, OutputError):  # before the OSError family: a missing *output* folder
        return EXIT_CANTCREAT, str(exc)
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
        if exc.filename is not None and exc.strerror:
            return EXIT_NOINPUT, f"cannot read {exc.filename}: {exc.strerror}"
        return EXIT_NOINPUT, str(exc)
    if isinstance(exc, ValueError):  # bad data, ModelFileError included
        return EXIT_DATAERR, str(exc)
    if isinstance(exc, MemoryError):
        return EXIT_INTERNAL, "out of memory (try fewer components or a smaller sample)"
    if isinstance(exc, OSError):
        return EXIT_INTERNAL, str(exc)
    return EXIT_INTERNAL, (f"internal error: {type(exc).__name__}: {exc} "
                           "(please report it with the output of -v)")


def _fail(settings: _Settings, code: int, message: str, exc: BaseException | None) -> int:
    if settings.verbose and exc is not None:
        traceback.print_exception(exc, file=sys.stderr)
    click.echo(f"mixsynth: error: {_one_line(message) or type(exc).__name__}", err=True)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments, without the program name; ``sys.argv[1:]`` when not given.

    Returns
    -------
    code : int
        The exit code (see the module docstring).
    """
    settings = _Settings()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with _warnings_to_stderr(settings):
            rv = cli.main(args=args, prog_name="mixsynth", standalone_mode=False, obj=settings)
    except click.Abort as exc:
        # click turns Ctrl-C into Abort (and prints the blank line that closes "^C").
        if isinstance(exc.__cause__, KeyboardInterrupt):
            click.echo("mixsynth: interrupted", err=True)
            return EXIT_INTERRUPTED
        return _fail(settings, EXIT_INTERNAL, "aborted", None)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("mixsynth: interrupted", err=True)
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # click exits by itself on a broken pipe and for completion
        return exc.code if isinstance(exc.code, int) else EXIT_INTERNAL
    except Exception as exc:
        code, message = _classify(exc)
        return _fail(settings, code, message, exc)
    return rv if isinstance(rv, int) else EXIT_OK
