"""The ``mixsynth`` command line: the only module that parses arguments or prints for people.

Everything goes through :func:`main`, which takes the arguments as a list and returns the exit
code, so the command line is tested in-process. Reports go to stdout; progress bars, warnings
and errors to stderr. A user mistake prints one line, ``mixsynth: error: ...``; the traceback
only with ``-v``. Heavy modules (numpy, scikit-learn, matplotlib) are imported inside the
commands, so ``mixsynth --help`` answers at once.

Why one module of this size: the command line is kept whole on purpose (the house style: one
``cli.py`` behind ``main(argv)``), because its commands share the option types, the read
options, the error mapping to exit codes and the progress plumbing, and read best side by side.

Commands: ``fit`` (data → model file, the selection table on stdout), ``sample`` (model → rows,
streamed in chunks to CSV / TSV / Parquet / ``.npy`` / an image folder, or CSV on stdout with
``-o -``), ``evaluate`` (quality report as JSON), ``report`` (HTML), ``inspect`` (the model
file's metadata, header only) and ``demo digits``. Data is read and written by
:mod:`mixsynth.io`; every hyper-parameter is checked by its option, so a bad value is a usage
error (exit 2) before any work is done.

Exit codes (the BSD ``sysexits.h`` values where one fits)::

    0    success
    1    internal error (a bug: please report it with the output of -v), or another failure
    2    usage error: unknown command or option, invalid value
    65   bad data: the input or the model file is not valid (EX_DATAERR)
    66   missing or unreadable input (EX_NOINPUT)
    73   cannot create output: it exists (use --force), no permission, disk full (EX_CANTCREAT)
    130  interrupted (Ctrl-C, SIGINT)
    143  terminated (SIGTERM)

SIGTERM is handled like Ctrl-C: it raises :class:`Terminated` (a ``KeyboardInterrupt``) where
the program is, so the same clean-up runs (temporary files removed, a sweep's finished
candidates kept, clusters closed), then the exit code is 143 (128 + 15, what a shell reports
for a process SIGTERM killed). SIGKILL cannot be handled: what it leaves is described in
``docs/architecture.md`` ("Files").
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import click

from mixsynth._testhooks import pause_point
from mixsynth._version import __version__
from mixsynth.io.atomic import OutputError

__all__ = [
    "EXIT_CANTCREAT",
    "EXIT_DATAERR",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_NOINPUT",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "Terminated",
    "main",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_DATAERR = 65
EXIT_NOINPUT = 66
EXIT_CANTCREAT = 73
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

# "\b" keeps click from re-wrapping the table.
_EPILOG = """\b
Exit codes:
  0    success
  1    internal error (please report it with the output of -v)
  2    usage error
  65   bad data (invalid input or model file)
  66   missing or unreadable input
  73   cannot create output (exists: use --force; no permission; disk full)
  130  interrupted (Ctrl-C)
  143  terminated (SIGTERM; cleaned up like Ctrl-C)
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


# --------------------------------------------------------------------- option parsing

_READ_HELP = """\b
Data (DATA, --real, --synthetic, --holdout, --data):
  .csv .txt (comma)  .tsv .tab (tab)  .parquet .pq  .npy (2-D)  a folder of images
  -  (CSV on standard input)
Only numeric columns (integers, floats, booleans) are modelled; other columns are an error
unless --columns leaves them out. NaN, inf and missing values are an error naming the
column and row (no imputation).
\b
Large files (fit): a .csv/.tsv/.parquet/.npy file whose values take more than
--memory-budget as float64 (256MiB by default; estimated from the file size for CSV) is
streamed: read once per EM iteration in bounded memory, never loaded whole. Candidates are
then compared by BIC (held-out folds need the rows in memory) and the memorisation guard is
skipped; --label and standard input need the rows in memory. --out-of-core / --in-memory
force either way. Both ways parse the file alike: the same columns, the same errors.
\b
Image folders: every file in the folder, in sorted order (hidden files and subfolders
ignored), converted to grayscale (--mode L, default) or RGB (--mode RGB, alpha dropped)
and to one size: --image-size WxH, else the most common size, other images resized with
the Lanczos filter (aspect ratio not kept; a warning counts them). Files that are not
readable images (corrupt, truncated, decompression bombs, other files) are an error that
lists them, or are skipped with --skip-bad.
"""


#: Numbers of components ``--components`` may list: each is a fit, so more is never meant.
MAX_CANDIDATE_KS = 1000


def _positive_finite(ctx: click.Context, param: click.Parameter,
                     value: float | None) -> float | None:
    """click's FloatRange lets NaN and inf through (every comparison with NaN is false)."""
    import math

    if value is None:  # an optional one left out
        return value
    if not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value!r} is not a finite number > 0.")
    return value


def _fail_param(message: str) -> None:
    raise click.BadParameter(message)


def _components(ctx: click.Context, param: click.Parameter,
                value: str | None) -> int | list[int] | None:
    """``K``, ``START:STOP[:STEP]`` (STOP included) or ``K1,K2,...``; ``auto``: the default."""
    if value is None or value.strip().lower() == "auto":
        return None
    text = value.replace(" ", "")
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError(text)
            start, stop = parts[0], parts[1]
            step = parts[2] if len(parts) == 3 else 1
            if step < 1:
                _fail_param(f"the STEP of {value!r} must be >= 1.")
            if stop < start:
                _fail_param(f"the STOP of {value!r} is below its START.")
            span = range(start, stop + 1, step)  # its length is known without building it
            if len(span) > MAX_CANDIDATE_KS:
                _fail_param(f"{value!r} gives {len(span):,} numbers of components; at most "
                            f"{MAX_CANDIDATE_KS:,} are tried: narrow the range or give a "
                            "STEP (e.g. 50:200:10).")
            ks: list[int] = list(span)
        else:
            ks = [int(p) for p in text.split(",")]
            if len(ks) > MAX_CANDIDATE_KS:
                _fail_param(f"{len(ks):,} numbers of components; at most "
                            f"{MAX_CANDIDATE_KS:,} are tried.")
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not K, START:STOP[:STEP] or K1,K2,... (whole numbers)") from None
    if min(ks) < 1:
        raise click.BadParameter(f"numbers of components must be >= 1, got {min(ks)}.")
    return ks[0] if len(ks) == 1 and ":" not in text and "," not in text else ks


def _covariance(ctx: click.Context, param: click.Parameter, value: str) -> str | list[str]:
    from mixsynth.core import COVARIANCE_TYPES

    types = [t.strip().lower() for t in value.split(",") if t.strip()]
    unknown = [t for t in types if t not in COVARIANCE_TYPES]
    if not types or unknown:
        raise click.BadParameter(f"unknown covariance type {', '.join(unknown) or value!r}; "
                                 f"use one or more of {', '.join(COVARIANCE_TYPES)}.")
    return types[0] if len(types) == 1 else types


def _reg_covar(ctx: click.Context, param: click.Parameter,
               value: str | None) -> float | list[float] | None:
    if value is None:
        return None
    try:
        regs = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of numbers.") from None
    bad = [r for r in regs if not (r >= 0 and r != float("inf"))]
    if not regs or bad:
        raise click.BadParameter(f"reg_covar values must be finite and >= 0, got {value!r}.")
    return regs[0] if len(regs) == 1 else regs


def _bounds(ctx: click.Context, param: click.Parameter,
            value: tuple[str, ...]) -> dict[str, tuple[float, float]] | None:
    """``COL=LO:HI`` (repeatable) as ``{COL: (LO, HI)}``; an empty LO or HI is unbounded."""
    if not value:
        return None
    out: dict[str, tuple[float, float]] = {}
    for item in value:
        col, sep, rng = item.rpartition("=")
        lo_text, colon, hi_text = rng.partition(":")
        if not sep or not col or not colon:
            raise click.BadParameter(f"{item!r}: expected COLUMN=LO:HI, e.g. pixel=0:16.")
        try:
            lo = float(lo_text) if lo_text.strip() else float("-inf")
            hi = float(hi_text) if hi_text.strip() else float("inf")
        except ValueError:
            raise click.BadParameter(f"{item!r}: LO and HI must be numbers.") from None
        if not lo <= hi:
            raise click.BadParameter(f"{item!r}: LO must be <= HI.")
        out[col] = (lo, hi)
    return out


def _reduce(ctx: click.Context, param: click.Parameter, value: str) -> float | int | None:
    text = value.strip().lower()
    if text in ("none", "all"):
        return None
    try:
        if text.isdigit():
            k = int(text)
            if k < 1:
                raise ValueError(text)
            return k
        f = float(text)
    except ValueError:
        f = float("nan")
    if not 0 < f <= 1:
        raise click.BadParameter(f"{value!r} is neither a variance fraction in (0, 1], a "
                                 "number of directions >= 1, nor 'none'.")
    return f


def _jobs(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    if value is not None and (value == 0 or value < -1):
        raise click.BadParameter(f"{value} is not -1 (one per core) or a number >= 1.")
    return value


def _column_list(ctx: click.Context, param: click.Parameter,
                 value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [c.strip() for c in value.split(",")]
    if not all(names):
        raise click.BadParameter(f"{value!r} has an empty column name.")
    return names


def _delimiter(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    text = {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(value, value)
    if len(text) != 1:
        raise click.BadParameter(f"{value!r} is not one character.")
    return text


def _image_size(ctx: click.Context, param: click.Parameter,
                value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    parts = value.lower().split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT, e.g. 28x28.") from None
    if width < 1 or height < 1:
        raise click.BadParameter(f"{value!r}: width and height must be >= 1.")
    return width, height


def _given(ctx: click.Context, param: click.Parameter,
           value: tuple[str, ...]) -> list[tuple[str, float | str]]:
    """``COLUMN=VALUE`` pairs: numbers as floats, anything else as text (a category or a date
    of a mixed-table model; an error for other models)."""
    import math

    out: list[tuple[str, float | str]] = []
    for item in value:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not COLUMN=VALUE.")
        try:
            number = float(text)
        except ValueError:
            out.append((key.strip(), text))
            continue
        if not math.isfinite(number):
            raise click.BadParameter(f"{item!r}: the value must be finite.")
        out.append((key.strip(), number))
    return out


class _Count(click.ParamType):
    """A number of rows: ``1000``, ``1_000_000`` or ``1e6``."""

    name = "N"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            n = value
        else:
            text = str(value).strip().replace("_", "")
            try:
                n = int(text)
            except ValueError:
                try:
                    f = float(text)
                except ValueError:
                    self.fail(f"{value!r} is not a whole number.", param, ctx)
                if not f.is_integer():
                    self.fail(f"{value!r} is not a whole number.", param, ctx)
                n = int(f)
        if n < 0:
            self.fail(f"{value!r} is negative.", param, ctx)
        return n


class _Bytes(click.ParamType):
    """A size in bytes: ``1000000``, ``1e9``, ``512K``, ``256M``, ``256MiB``, ``2G``, ``2GB``
    (K, M, G, T are powers of 1024)."""

    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        import re

        text = str(value).strip().lower().replace("_", "")
        match = re.fullmatch(r"([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?) ?([kmgt]?)(?:i?b)?", text)
        if match is None:
            self.fail(f"{value!r} is not a size such as 256M, 2G or 1e9.", param, ctx)
        number = float(match[1]) * 1024 ** " kmgt".index(match[2] or " ")
        if number > 2**62:
            self.fail(f"{value!r} is too large a size.", param, ctx)
        return int(number)


@dataclass(frozen=True)
class _ReadOptions:
    """How to read data files: the options every command that reads data shares."""

    columns: list[str] | None = None
    delimiter: str | None = None
    skip_bad: bool = False
    image_size: tuple[int, int] | None = None
    image_mode: str = "L"


def _data_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--mode", "image_mode", type=click.Choice(["L", "RGB"]),
                     default="L", show_default=True,
                     help="Image folders: convert images to grayscale (L) or colour (RGB).")(f)
    f = click.option("--image-size", callback=_image_size, metavar="WxH",
                     help="Image folders: resize every image to W x H pixels (default: the "
                     "most common size; others resized with the Lanczos filter).")(f)
    f = click.option("--skip-bad", is_flag=True,
                     help="Image folders: skip unreadable files with a warning listing them, "
                     "instead of failing.")(f)
    f = click.option("--delimiter", callback=_delimiter, metavar="CHAR",
                     help="CSV field separator (default ',' for .csv, tab for .tsv; '\\t' or "
                     "'tab' for a tab).")(f)
    f = click.option("--columns", callback=_column_list, metavar="A,B,...",
                     help="The feature columns, in this order (default: every column but the "
                     "label); leaves out non-numeric columns.")(f)
    return f


def _read_table(path: str, options: _ReadOptions, *, label: str | None = None,
                param_hint: str = "DATA", allow_nan: bool = False) -> Any:
    """Read a data set (a :class:`mixsynth.io.Table`); a bad suffix or option is a usage error.
    ``allow_nan``: missing values pass (for the model of gaps)."""
    from mixsynth.io.readers import read_data

    _data_format(path, options, label=label, param_hint=param_hint)
    return read_data(path, columns=options.columns, label=label, delimiter=options.delimiter,
                     skip_bad=options.skip_bad, image_size=options.image_size,
                     image_mode=options.image_mode, allow_nan=allow_nan)


def _data_format(path: str, options: _ReadOptions, *, label: str | None,
                 param_hint: str) -> str:
    """The format of ``path``; a bad suffix, or options that do not apply, are usage errors."""
    from mixsynth.io.table import data_format

    try:
        fmt = data_format(path)
    except ValueError as exc:  # not FileNotFoundError: a missing input is exit 66
        raise click.BadParameter(str(exc), param_hint=param_hint) from None
    if fmt == "images":
        if options.columns is not None or label is not None:
            raise click.UsageError(f"{path} is a folder of images: --columns and --label "
                                   "apply to tabular data.")
    elif options.skip_bad or options.image_size is not None or options.image_mode != "L":
        raise click.UsageError("--skip-bad, --image-size and --mode apply to image folders "
                               f"only, and {path} is a {fmt} file.")
    return fmt


def _check_output(path: str, force: bool, *, folder: bool = False) -> None:
    """Refuse an output that exists (exit 73) before any costly work."""
    import errno

    from mixsynth.io.atomic import OutputError, OutputExistsError, ensure_can_write

    if path == "-":
        return
    target = Path(path)
    if folder:
        if not force and (target.exists() or target.is_symlink()):
            raise OutputExistsError(target)
    else:
        ensure_can_write(target, overwrite=force)
    parent = target.parent
    if not parent.is_dir():
        raise OutputError(f"cannot write {target}: the folder {parent} does not exist",
                          path=target, errno_=errno.ENOENT)


def _load_model(path: str, *, synthesizer: bool = True) -> tuple[Any, dict[str, Any]]:
    """The model in ``path`` and the data-source facts saved with it (``extra``)."""
    from mixsynth.persistence import load, read_metadata

    _check_model_path(path)
    extra = read_metadata(path).get("extra") or {}
    model = load(path)
    if synthesizer:
        from mixsynth.synthesizer import Synthesizer

        if not isinstance(model, Synthesizer):
            raise ValueError(f"{path} holds a {type(model).__name__}, not a Synthesizer; this "
                             "command needs a model written by `mixsynth fit`.")
    return model, extra if isinstance(extra, dict) else {}


def _check_model_path(path: str) -> None:
    """A FIFO or device as MODEL would block the read for ever: refused (exit 66)."""
    from mixsynth.io.table import check_regular_file

    check_regular_file(path, what="a model")


def _save_model(model: Any, path: str, *, force: bool, extra: dict[str, Any]) -> None:
    from mixsynth import persistence

    persistence.save(model, path, overwrite=force, extra=extra)


@contextlib.contextmanager
def _row_progress(settings: _Settings, total: int) -> Iterator[Callable[[int], None]]:
    """An ``update(rows)`` callback driving a bar of rows written (a no-op without one)."""
    if not settings.show_progress:
        yield lambda rows: None
        return
    from tqdm import tqdm

    bar = tqdm(total=total, desc="sampling", unit="row", unit_scale=True, file=sys.stderr,
               dynamic_ncols=True)
    settings.bar = bar
    try:
        yield bar.update
    finally:
        settings.bar = None
        bar.close()


def _chunk_rows(chunk: Any) -> int:
    return len(chunk[0]) if isinstance(chunk, tuple) else len(chunk)


# ---------------------------------------------------------------------------- fit


def _describe_selection(part: Any, report: Callable[[str], None]) -> None:
    """The sweep of one single-class model (a ``mixsynth.model.WhitenedMixture``)."""
    selection = part.selection
    if selection is None:
        report("every column is constant: the model is that single point")
        return
    report(selection.format_table())
    best = selection.best
    shrunk = f", shrinkage {best.shrinkage:g}" if best.shrinkage else ""
    space = f", {best.space} space" if best.space else ""
    report(f"chosen: K={best.n_components}, {best.covariance_type} covariance{shrunk}, "
           f"reg_covar={best.reg_covar:g}{space} (criterion {selection.criterion}); "
           f"{part.whitener.n_components_} of {part.n_features} dimensions kept")
    for note in selection.notes:
        report(f"note: {note}")


@dataclass(frozen=True)
class _Frame:
    """What :func:`_describe_fit` says about a mixed table."""

    source: str
    n_samples: int
    n_features: int
    image_shape: None = None
    label: None = None


def on_cluster_asked(workers: int | None, scheduler_address: str | None) -> bool:
    return workers is not None or scheduler_address is not None


def _column_kinds(categorical: list[str] | None,
                  continuous: list[str] | None) -> dict[str, str] | None:
    both = set(categorical or ()) & set(continuous or ())
    if both:
        raise click.UsageError(f"column {sorted(both)[0]!r} is given to both --categorical "
                               "and --continuous.")
    kinds = {c: "categorical" for c in categorical or ()}
    kinds.update({c: "continuous" for c in continuous or ()})
    return kinds or None


def _mixed_frame(path: str, options: _ReadOptions, kinds: dict[str, str] | None, *,
                 force: bool = False) -> Any:
    """A CSV / Parquet table with text, boolean or date columns, or gaps, as a DataFrame (the
    mixed model's input); ``None`` for anything else (numbers only: the usual reader).
    ``force``: read it as a DataFrame whatever it holds (the other tables of an evaluation
    whose real table is mixed). :func:`mixsynth.io.frames.table_frame` decides, as
    ``Synthesizer().fit(path)`` does."""
    from mixsynth.io.frames import table_frame

    frame = table_frame(path, columns=options.columns, delimiter=options.delimiter,
                        force=force or bool(kinds))
    if frame is None:
        return None
    unknown = [c for c in kinds or () if c not in frame.columns]
    if unknown:
        raise click.BadParameter(f"unknown column {unknown[0]!r}; the columns are "
                                 f"{_shown([str(c) for c in frame.columns])}.")
    return frame


def _has_gaps(values: Any) -> bool:
    import numpy as np

    return bool(np.isnan(values).any())


def _describe_table(part: Any, report: Callable[[str], None]) -> None:
    """The sweep and the columns of a mixed-table model (:mod:`mixsynth.table_model`)."""
    codec = part.codec
    kinds: dict[str, list[str]] = {}
    for spec in codec.specs:
        kinds.setdefault(spec.kind, []).append(str(spec.name))
    report("columns: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in kinds.items()))
    gaps = [str(s.name) for s in codec.specs if s.missing]
    if gaps:
        patterns = sum(len(levels) for levels in part.missingness)
        report(f"missing values modelled in: {', '.join(gaps)} ({patterns} patterns of gaps, "
               "sampled at their rates)")
    tried = [c for c in part.candidates or () if c["score"] is not None]
    best = max(tried, key=lambda c: c["score"]) if tried else None
    if best is not None:
        report(f"chosen: K={best['n_components']}, {best['covariance_type']} covariance, "
               f"reg_covar={best['reg_covar']:g} of {len(tried)} candidates "
               f"(score {best['score']:.4g}); {part.n_parameters} parameters")


def _describe_fit(model: Any, table: Any, report: Callable[[str], None]) -> None:
    what = f"{table.n_samples} rows x {table.n_features} columns"
    if table.image_shape is not None:
        what = f"{table.n_samples} images of {'x'.join(map(str, table.image_shape))}"
    report(f"data: {table.source}: {what}")
    for label, prior, part in model.model_.parts():  # one part, or one per class
        if label is not None:
            report(f"\nclass {table.label}={_plain(label)!r} "
                   f"({round(prior * table.n_samples)} rows):")
        if hasattr(part, "codec"):
            _describe_table(part, report)
        else:
            _describe_selection(part, report)
    memo = model.memorization_
    if memo:
        report(f"memorisation guard: {memo['near_copy_rate']:.1%} of generated rows are near "
               f"copies of training rows ({memo['holdout_near_copy_rate']:.1%} of held-out "
               "real rows)")


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


@cli.command(epilog=_READ_HELP + "\n" + _EPILOG)
@click.argument("data", metavar="DATA")
@click.option("-o", "--output", "model_path", required=True, metavar="MODEL",
              help="The model file to write (e.g. model.mixsynth).")
@click.option("--reduce", callback=_reduce, default="0.99", show_default=True,
              metavar="FRACTION|N|none",
              help="PCA: variance fraction (0, 1] or number of directions to keep; 'none' "
              "keeps every non-null direction.")
@click.option("--whiten/--no-whiten", default=True, show_default=True,
              help="Whiten the PCA directions.")
@click.option("--scale", type=click.Choice(["std", "none"]), default=None,
              help="Per-column scaling before PCA [default: std for tables, none for images].")
@click.option("--components", callback=_components, default=None, metavar="KS",
              help="Candidate numbers of components: 110, 1:200, 50:200:10 (STOP included) "
              "or 2,4,8 [default: 10,25,50,100 for realism, 1..32 otherwise, capped by the "
              "distinct rows].")
@click.option("--covariance", callback=_covariance, default="full", show_default=True,
              metavar="TYPES", help="Candidate covariance types, comma-separated: full, tied, "
              "diag, spherical.")
@click.option("--criterion", type=click.Choice(["realism", "heldout", "bic", "aic"]),
              default="realism", show_default=True,
              help="How candidates are compared: realism (a classifier's AUC telling "
              "generated from held-out rows, under the memorisation guard, likelihood as "
              "floor; also searches the per-column space and shrinkage: see Synthesizer); "
              "held-out log-likelihood; BIC; AIC.")
@click.option("--cv", type=click.IntRange(min=2), default=5, show_default=True,
              help="Folds of the held-out criterion.")
@click.option("--reg-covar", callback=_reg_covar, default=None, metavar="R1,R2",
              help="Candidate covariance regularisations (>= 0) [default: 1e-3 for realism, "
              "1e-6,1e-3,1e-2,0.1 otherwise].")
@click.option("--tol", type=float, callback=_positive_finite, default=1e-3,
              show_default=True, help="EM convergence threshold (finite, > 0).")
@click.option("--max-iter", type=click.IntRange(min=1), default=100, show_default=True,
              help="EM iterations at most.")
@click.option("--n-init", type=click.IntRange(min=1), default=1, show_default=True,
              help="EM restarts per candidate.")
@click.option("--one-se", is_flag=True,
              help="Held-out: the simplest candidate within one standard error of the best.")
@click.option("--support", type=click.Choice(["clip", "truncate", "none"]), default="clip",
              show_default=True, help="Keep samples within the observed bounds by clipping or "
              "by redrawing; integer columns are rounded either way ('none': raw draws).")
@click.option("--support-transform", type=click.Choice(["auto", "logit", "none"]),
              default="auto", show_default=True,
              help="Model bounded columns on the real line before whitening: 'auto' for "
              "integer columns (counts, pixels), 'logit' for every bounded column, 'none'.")
@click.option("--bounds", "bounds", multiple=True, callback=_bounds, metavar="COL=LO:HI",
              help="Bounds of a column (its name, or its position for headerless data), "
              "repeatable: --bounds pixel=0:16; an empty side is unbounded (amount=0:). Other "
              "columns keep their observed bounds, widened by a margin.")
@click.option("--guard/--no-guard", default=True, show_default=True,
              help="Check the fitted model for memorisation (warns when it copies rows).")
@click.option("--label", default=None, metavar="COLUMN",
              help="Class-conditional: one model per value of this column, which is not a "
              "feature.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the selection and the fit.")
@click.option("--jobs", type=int, callback=_jobs, default=None, metavar="N",
              help="Worker processes for the candidates (-1: one per core).")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Run on a local Dask cluster of N worker processes (127.0.0.1, no "
              "dashboard); needs the 'dask' extra. In memory: the candidates are its tasks. "
              "Streamed .npy and Parquet files: data-parallel EM, each worker reading its "
              "blocks of the file. Streamed CSV files cannot be split: they are streamed in "
              "this process (the cluster is not started).")
@click.option("--device", default=None, metavar="DEVICE",
              help="Run the candidates' E-steps on a PyTorch device (cuda, cuda:1, mps...): "
              "data fitted in memory; needs 'pip install mixsynth[torch]'.")
@click.option("--scheduler-address", default=None, metavar="tcp://HOST:PORT",
              help="Run on a running Dask scheduler instead (its workers must see DATA at "
              "the same path to read a streamed file).")
@click.option("--out-of-core/--in-memory", "out_of_core", default=None,
              help="Stream DATA from its file (bounded memory, selection by BIC), or read "
              "it into memory [default: stream files above --memory-budget].")
@click.option("--memory-budget", type=_Bytes(), default=None, metavar="SIZE",
              help="Files whose values take more than SIZE as float64 (512M, 2G) are "
              "streamed [default: 256MiB, the Python API's threshold].")
@click.option("--categorical", callback=_column_list, metavar="A,B,...",
              help="Model these columns as categories (e.g. integer codes or years); text, "
              "boolean and category columns are categorical already.")
@click.option("--continuous", callback=_column_list, metavar="A,B,...",
              help="Model these columns as numbers (text holding numbers, say).")
@click.option("--missing", type=click.Choice(["model", "complete"]), default="model",
              show_default=True, help="Data with gaps (always modelled, by EM): generate "
              "rows with gaps at the data's rates and patterns, or complete rows.")
@click.option("--force", is_flag=True, help="Overwrite MODEL if it exists.")
@_data_options
@_common_options
@click.pass_context
def fit(ctx: click.Context, data: str, model_path: str, reduce: float | int | None,
        whiten: bool, scale: str | None, components: int | list[int] | None,
        covariance: str | list[str], criterion: str, cv: int,
        reg_covar: float | list[float] | None, tol: float, max_iter: int, n_init: int,
        one_se: bool, support: str, support_transform: str,
        bounds: dict[str, tuple[float, float]] | None, guard: bool, label: str | None,
        seed: int, jobs: int | None, device: str | None, workers: int | None,
        scheduler_address: str | None,
        out_of_core: bool | None, memory_budget: int | None,
        categorical: list[str] | None, continuous: list[str] | None, missing: str,
        force: bool,
        **read: Any) -> None:
    """Learn the distribution of DATA; write the fitted model to MODEL.

    Candidates (numbers of components x covariance types x regularisations) are compared
    by --criterion; the selection table and the chosen model are printed.
    """
    settings = ctx.ensure_object(_Settings)
    if model_path == "-":
        raise click.BadParameter("a model file is binary: use -o FILE.", param_hint="-o")
    if workers is not None and scheduler_address is not None:
        raise click.UsageError("give --workers or --scheduler-address, not both.")
    _check_output(model_path, force)
    if device is not None:  # before any data is read
        from mixsynth.sources.device import check_device

        try:
            check_device(device)
        except (ValueError, ImportError) as exc:
            raise click.BadParameter(str(exc), param_hint="--device") from None
    options = _ReadOptions(**read)
    kinds = _column_kinds(categorical, continuous)
    frame = None
    if label is None and not out_of_core and not on_cluster_asked(workers, scheduler_address):
        frame = _mixed_frame(data, options, kinds)
    if kinds and frame is None:
        raise click.UsageError("--categorical and --continuous apply to CSV, TSV and Parquet "
                               "tables read into memory, without --label or a cluster.")
    stream = None if frame is not None else _stream_plan(
        data, options, label=label, out_of_core=out_of_core, budget=memory_budget, seed=seed,
        settings=settings)
    on_cluster = workers is not None or scheduler_address is not None
    if stream is not None and on_cluster:
        from mixsynth.io.dask_files import splittable

        if not splittable(stream.table):
            settings.err(f"mixsynth: note: {data} is streamed in this process: a CSV file, or "
                         "a Parquet file with very large row groups, cannot be split into "
                         "blocks for Dask workers; the cluster is not started.")
            on_cluster = False
    table = None if stream is not None or frame is not None else _read_table(
        data, options, label=label, allow_nan=label is None and not on_cluster)
    if table is not None and table.image_shape is None and _has_gaps(table.values):
        # numbers with gaps: the model of gaps (EM, missingness generated), as fit(df) does;
        # a class-conditional fit (--label) still refuses them, naming the first
        frame, table = table.to_input(), None

    from mixsynth.synthesizer import Synthesizer

    params: dict[str, Any] = dict(
        reduce=reduce, whiten=whiten,
        scale=scale or ("none" if table is not None and table.image_shape is not None
                        else "std"),
        n_components=components, covariance_type=covariance, criterion=criterion, cv=cv,
        tol=tol, max_iter=max_iter, n_init=n_init, one_se=one_se, n_jobs=jobs,
        support=None if support == "none" else support,
        support_transform=None if support_transform == "none" else support_transform,
        guard=guard, random_state=seed,
    )
    if kinds:
        params["column_kinds"] = kinds
    if missing != "model":
        params["missing"] = missing
    if reg_covar is not None:
        params["reg_covar"] = reg_covar
    if bounds is not None:
        params["bounds"] = bounds
    if device is not None:
        if stream is not None:
            raise click.UsageError(f"--device runs E-steps on data held in memory; {data} is "
                                   "streamed: add --in-memory (or a larger --memory-budget).")
        params["device"] = device
    model = Synthesizer(**params)
    with contextlib.ExitStack() as stack:
        if on_cluster:
            if not settings.verbose:
                stack.enter_context(_quiet_dask())
            from mixsynth.distributed import cluster  # the dask extra, only when asked for

            with _workers_ignore_sigint():
                stack.enter_context(cluster(workers, scheduler_address))
        progress = stack.enter_context(_candidate_progress(settings))
        pause_point("fit")  # where the interruption tests signal (mixsynth._testhooks)
        if frame is not None:
            model.fit(frame, progress=progress)
            facts: Any = _Frame(data, *frame.shape)
            extra = {"columns": [str(c) for c in frame.columns], "source": data,
                     "table": True}
        elif stream is not None:
            source = _stream_source(stream, on_cluster)
            model.fit(source, progress=progress, out_of_core=True)
            facts = _Streamed(data, *source.shape)
            extra = {
                "columns": list(stream.table.columns),
                "dtypes": list(
                    stream.table.dtype_names(lambda j: bool(model.integer_columns_[j]))
                ),
                "source": data,
                "streamed": True,
            }
        else:
            assert table is not None
            # finished candidates survive Ctrl-C or a crash in MODEL.partial; the same command
            # run again resumes the sweep (and ends with the same model)
            partial = f"{model_path}.partial"
            try:
                model.fit(table.to_input(), table.labels, progress=progress,
                          checkpoint=partial)
            except KeyboardInterrupt:
                if os.path.exists(partial):
                    click.echo(f"mixsynth: interrupted; finished candidates are kept in "
                               f"{partial}: run the same command again to resume.", err=True)
                raise
            facts, extra = table, table.info()
    _save_model(model, model_path, force=force, extra=extra)
    _describe_fit(model, facts, settings.report)
    settings.report(f"wrote {model_path}")


@contextlib.contextmanager
def _workers_ignore_sigint() -> Iterator[None]:
    """Ignore SIGINT while the cluster's worker processes are started: they inherit the
    ignored signal (exec keeps it, and Python then installs no handler of its own), so a
    Ctrl-C at the terminal, which reaches every process of the group, interrupts only this
    process, which cancels the work and closes the cluster; the workers do not each print a
    traceback. The price: a Ctrl-C in the seconds the cluster takes to start is ignored."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Without -v, only errors from Dask: in this process (where a Ctrl-C otherwise ends in
    asyncio's "Task exception was never retrieved" tracebacks of the cancelled gathers) and in
    the worker processes (spawned with this environment), whose warnings about cancelled
    tasks would follow the one "interrupted" line."""
    import logging

    names = ("asyncio", "distributed", "tornado")
    levels = {name: logging.getLogger(name).level for name in names}
    variable = "DASK_LOGGING__DISTRIBUTED"
    before = os.environ.get(variable)
    if before is None:
        os.environ[variable] = "error"
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if before is None:
            os.environ.pop(variable, None)


@dataclass(frozen=True)
class _Streamed:
    """What :func:`_describe_fit` says about data that was streamed (a Table's attributes)."""

    source: str
    n_samples: int
    n_features: int
    image_shape: None = None
    label: None = None


def _stream_plan(path: str, options: _ReadOptions, *, label: str | None,
                 out_of_core: bool | None, budget: int | None, seed: int,
                 settings: _Settings) -> Any:
    """The file's source (:func:`mixsynth.sources.file_source`, as the Python API makes of a
    path) when ``fit`` streams it, else ``None`` (read into memory): the API's storage policy
    decides (:class:`mixsynth.sources.StoragePolicy`)."""
    fmt = _data_format(path, options, label=label, param_hint="DATA")
    if out_of_core is False:
        return None
    if path == "-" or fmt == "images" or label is not None:
        if out_of_core:
            why = ("--label needs the rows in memory (one model per class): fit without "
                   "--out-of-core, or fit each class's rows on their own" if label is not None
                   else "--out-of-core streams .csv, .tsv, .parquet and .npy files; standard "
                   "input and image folders are read into memory (use --in-memory)")
            raise click.UsageError(why)
        return None
    from mixsynth.seeding import SeedPlan
    from mixsynth.sources import StoragePolicy, file_source

    # the reservoir seed of Synthesizer.fit's own plan: the same file and seed give the same
    # model through the API and the command line
    reservoir = SeedPlan.from_random_state(seed).reservoir_seed()
    source = file_source(path, seed=reservoir, columns=options.columns,
                         delimiter=options.delimiter)
    policy = StoragePolicy(memory_budget=budget, out_of_core=out_of_core)
    if not policy.streams(source):
        return None
    if not settings.quiet:
        why = ("--out-of-core" if out_of_core else
               f"above the memory budget of {_size(policy.budget)} (--memory-budget)")
        about = "about " if fmt in ("csv", "tsv") else ""
        settings.err(f"mixsynth: {path}: {about}{_size(policy.nbytes(source))} as float64, "
                     f"{why}: fitting out of core (one pass over the file per EM iteration)")
    return source


def _stream_source(source: Any, on_cluster: bool) -> Any:
    """The source a streamed fit reads: the file's blocks on the cluster's workers, or the
    file source itself, in this process."""
    if on_cluster:
        from mixsynth.io.dask_files import dask_source

        return dask_source(source.table, seed=source.seed)
    return source


def _size(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"  # pragma: no cover - the loop returns


# ---------------------------------------------------------------------------- sample


def _given_keys(model: Any, extra: dict[str, Any],
                pairs: list[tuple[str, float]]) -> dict[Any, float]:
    """``--given`` pairs keyed as :meth:`Synthesizer.sample` wants them."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        known = [str(c) for c in names]
        keyed: dict[Any, float] = {}
        for key, value in pairs:
            if key not in known:
                raise click.BadParameter(f"unknown column {key!r}; the model's columns are "
                                         f"{_shown(known)}.", param_hint="--given")
            keyed[names[known.index(key)]] = value
        return keyed
    columns = [str(c) for c in extra.get("columns") or []]
    keyed = {}
    for key, value in pairs:
        if key in columns:
            keyed[columns.index(key)] = value
        elif key.isdigit() and int(key) < model.n_features_in_:
            keyed[int(key)] = value
        else:
            raise click.BadParameter(f"unknown column {key!r}; use a column name or a position "
                                     f"0..{model.n_features_in_ - 1}.", param_hint="--given")
    return keyed


def _table_given(table: Any, pairs: Sequence[tuple[str, float | str]]) -> dict[Any, Any]:
    """``--given`` pairs for a mixed-table model: a category by its text, numbers and dates
    as given."""
    columns = {str(c): c for c in table.codec.columns}
    out: dict[Any, Any] = {}
    for key, value in pairs:
        if key not in columns:
            raise click.BadParameter(f"unknown column {key!r}; the model's columns are "
                                     f"{_shown(list(columns))}.", param_hint="--given")
        spec = table.codec.spec(columns[key])
        if spec.is_discrete:
            text = value if isinstance(value, str) else f"{value:g}"
            match = [c for c in spec.categories if str(c) == text or (
                not isinstance(value, str) and not isinstance(c, str) and c == value)]
            if not match:
                raise click.BadParameter(
                    f"{value!r} is not a category of column {key!r}; its categories are "
                    f"{_shown([str(c) for c in spec.categories])}.", param_hint="--given")
            out[columns[key]] = match[0]
        else:
            out[columns[key]] = value
    return out


def _shown(names: list[str], limit: int = 20) -> str:
    return str(names if len(names) <= limit else [*names[:limit], "..."])


def _class_value(model: Any, text: str | None) -> Any:
    """The class label ``--class`` names, in the model's own type."""
    classes = getattr(model, "classes_", None)
    if text is None:
        return None
    if classes is None:
        raise click.BadParameter("the model is not class-conditional (fit it with --label).",
                                 param_hint="--class")
    for c in classes:
        if str(_plain(c)) == text or (isinstance(_plain(c), bool) and str(c).lower() == text):
            return c
    raise click.BadParameter(f"unknown class {text!r}; the model's classes are "
                             f"{_shown([str(_plain(c)) for c in classes])}.",
                             param_hint="--class")


@cli.command(epilog=_EPILOG)
@click.argument("model_path", metavar="MODEL")
@click.option("-n", "n_rows", required=True, type=_Count(),
              help="Rows to generate (1000, 1_000_000 or 1e6).")
@click.option("-o", "--output", required=True, metavar="OUT",
              help="Output by suffix: .csv, .tsv, .parquet, .npy; a folder for image models "
              "(one PNG per row and contact_sheet.png); '-' for CSV on standard output.")
@click.option("--format", "fmt", type=click.Choice(["csv", "tsv", "parquet", "npy", "images"]),
              default=None, help="The output format, whatever the suffix.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed: the same seed gives the same rows [default: fresh rows].")
@click.option("--given", multiple=True, callback=_given, metavar="COLUMN=VALUE",
              help="Draw the other columns given this value (repeatable).")
@click.option("--class", "class_label", default=None, metavar="LABEL",
              help="Class-conditional models: rows of this class only [default: all classes, "
              "in their training proportions].")
@click.option("--temperature", type=float, callback=_positive_finite, default=1.0,
              show_default=True, metavar="T",
              help="Scale each component's spread: covariances times T, category "
              "probabilities p^(1/T) renormalised; 1 is the model itself, below 1 fewer "
              "unusual rows.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=65_536, show_default=True,
              help="Rows generated and written at a time (bounds the memory).")
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
@_common_options
@click.pass_context
def sample(ctx: click.Context, model_path: str, n_rows: int, output: str, fmt: str | None,
           seed: int | None, given: list[tuple[str, float | str]], class_label: str | None,
           temperature: float, chunk_size: int, force: bool) -> None:
    """Generate N new rows from MODEL and write them to OUT, streaming in chunks."""
    from mixsynth.io.writers import BinaryToTerminalError, check_stdout, output_format
    from mixsynth.persistence import read_metadata

    settings = ctx.ensure_object(_Settings)
    _check_model_path(model_path)
    extra = read_metadata(model_path).get("extra") or {}
    image_shape = extra.get("image_shape") if isinstance(extra, dict) else None
    try:
        fmt = output_format(output, fmt, image_shape=image_shape)
        if output == "-":
            check_stdout(fmt)
    except (ValueError, BinaryToTerminalError) as exc:
        raise click.BadParameter(str(exc), param_hint="-o") from None
    _check_output(output, force, folder=fmt == "images")
    model, extra = _load_model(model_path)
    table = model._table()
    if table is not None:
        keyed: dict[Any, Any] = _table_given(table, given)
    else:
        numbers: list[tuple[str, float]] = []
        for key, value in given:
            if isinstance(value, str):
                raise click.BadParameter(f"'{key}={value}': {value!r} is not a number.",
                                         param_hint="--given")
            numbers.append((key, value))
        keyed = _given_keys(model, extra, numbers)
    y = _class_value(model, class_label)
    if keyed:
        try:  # a given value the model cannot condition on is the user's to change
            model.sample(0, 0, given=keyed, y=y)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--given") from None
    classes = getattr(model, "classes_", None)
    if fmt == "npy" and classes is not None and classes.dtype.kind not in "biuf":
        raise click.BadParameter("an .npy file cannot hold the model's text class labels; "
                                 "write .csv or .parquet.", param_hint="-o")
    columns = extra.get("columns")
    dtypes = extra.get("dtypes")
    if not (isinstance(columns, list) and len(columns) == model.n_features_in_):
        columns = None
    if not (isinstance(dtypes, list) and len(dtypes) == model.n_features_in_):
        dtypes = None

    from mixsynth.io.writers import write_chunks

    with _row_progress(settings, n_rows) as update:

        def chunks() -> Iterator[Any]:
            for chunk in model.iter_sample(n_rows, seed, chunk_size=chunk_size,
                                           given=keyed or None, y=y, temperature=temperature):
                yield chunk
                update(_chunk_rows(chunk))

        n = write_chunks(output, chunks(), columns=columns, dtypes=dtypes,
                         label=extra.get("label") or "label", n_rows=n_rows, overwrite=force,
                         image_shape=image_shape, fmt=fmt,
                         like=None if table is None else table.codec.example())
    if output != "-":
        what = "images" if fmt == "images" else "rows"
        settings.report(f"wrote {n} {what} to {output}")


# -------------------------------------------------------------------------- evaluate


def _summary_table(rows: list[tuple[str, str, str]]) -> str:
    w1 = max(len(r[0]) for r in rows)
    w2 = max(len(r[1]) for r in rows)
    return "\n".join(f"{m:<{w1}}  {v:>{w2}}  {d}" for m, v, d in rows)


def _table_frames(named: Sequence[tuple[str | None, str]], options: _ReadOptions,
                       label: str | None, model: Any) -> list[Any] | None:
    """The tables of ``evaluate`` or ``report`` (the real one first) as DataFrames when the
    real one is a mixed table (text, booleans, dates, gaps: as ``fit`` reads it) or the model
    was fitted on one; ``None`` for numbers (the usual reader and its checks)."""
    (real, _), *_ = named
    assert real is not None
    frame = _mixed_frame(real, options, None)
    if frame is None and getattr(model, "_table", lambda: None)() is None:
        return None
    frames: list[Any] = []
    for i, (path, hint) in enumerate(named):
        if path is None:
            frames.append(None)
            continue
        got = frame if i == 0 and frame is not None else _mixed_frame(
            path, options, None, force=True)
        if got is None:  # not CSV / Parquet, or unreadable: the usual reader says why
            got = _read_table(path, options, label=label, param_hint=hint,
                              allow_nan=True).to_input()
        if label is not None and label in getattr(got, "columns", ()):
            got = got.drop(columns=label)
        frames.append(got)
    return frames


@cli.command(epilog=_READ_HELP + "\n" + _EPILOG)
@click.option("--real", required=True, metavar="DATA",
              help="The real rows the model was fitted on.")
@click.option("--synthetic", required=True, metavar="DATA", help="The generated rows.")
@click.option("--holdout", default=None, metavar="DATA",
              help="Real rows kept out of the fit: the baseline of the privacy metrics.")
@click.option("--model", "model_path", default=None, metavar="MODEL",
              help="The model, for the log-likelihoods.")
@click.option("-o", "--output", required=True, metavar="REPORT.json",
              help="The report as JSON ('-': standard output).")
@click.option("--label", default=None, metavar="COLUMN",
              help="A label column to leave out [default: the model's, if it has one].")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the subsampling and the classifier.")
@click.option("--max-rows", type=click.IntRange(min=2), default=5000, show_default=True,
              help="Rows of each data set that enter the metrics, at most.")
@click.option("--temperature", type=float, callback=_positive_finite, default=None,
              metavar="T", help="The temperature SYNTHETIC was sampled at: recorded in the "
              "report [default: not stated].")
@click.option("--force", is_flag=True, help="Overwrite the report if it exists.")
@_data_options
@_common_options
@click.pass_context
def evaluate(ctx: click.Context, real: str, synthetic: str, holdout: str | None,
             model_path: str | None, output: str, label: str | None, seed: int,
             max_rows: int, temperature: float | None, force: bool, **read: Any) -> None:
    """Compare generated rows with real ones: fidelity, generalisation, memorisation.

    A CSV or Parquet table with text, boolean or date columns, or gaps (as `fit` reads it),
    or a model fitted on one, gets the mixed-table report: the tables are matched by column
    name.
    """
    settings = ctx.ensure_object(_Settings)
    _check_output(output, force)
    model = None
    if model_path is not None:
        model, extra = _load_model(model_path, synthesizer=False)
        label = label or extra.get("label")
    options = _ReadOptions(**read)
    named = ((real, "--real"), (synthetic, "--synthetic"), (holdout, "--holdout"))
    inputs = _table_frames(named, options, label, model)
    if inputs is None:  # numbers: the usual reader
        inputs = [None if path is None else
                  _read_table(path, options, label=label, param_hint=hint).to_input()
                  for path, hint in named]

    from mixsynth.evaluation import evaluate as evaluate_quality
    from mixsynth.io.atomic import atomic_write

    real_x, synthetic_x, holdout_x = inputs
    quality = evaluate_quality(real_x, synthetic_x, holdout_x, model, random_state=seed,
                               max_rows=max_rows, temperature=temperature)
    text = quality.to_json(indent=2) + "\n"
    summary = _summary_table(quality.summary())
    if output == "-":
        click.echo(text, nl=False)
        if not settings.quiet:
            settings.err(summary)
        return
    with atomic_write(output, "w", overwrite=force) as f:
        f.write(text)
    settings.report(summary)
    settings.report(f"wrote {output}")


# ---------------------------------------------------------------------------- report


@cli.command(epilog=_READ_HELP + "\n" + _EPILOG)
@click.argument("model_path", metavar="MODEL")
@click.option("--data", required=True, metavar="DATA",
              help="The real rows (typically those MODEL was fitted on).")
@click.option("-o", "--output", required=True, metavar="REPORT.html",
              help="The HTML file to write (self-contained; '-': standard output).")
@click.option("--title", default=None, help="The page's title.")
@click.option("--holdout", default=None, metavar="DATA",
              help="Real rows kept out of the fit: the held-out log-likelihood and the "
              "privacy baselines are computed from them [default: skipped].")
@click.option("--samples", "n_samples", type=click.IntRange(min=1), default=None,
              help="Generated rows to compare [default: as many as the real rows shown].")
@click.option("--temperature", type=float, callback=_positive_finite, default=1.0,
              show_default=True, metavar="T",
              help="Temperature of the generated rows (as for sample); stated in the report.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the generated rows and the metrics.")
@click.option("--force", is_flag=True, help="Overwrite the report if it exists.")
@_data_options
@_common_options
@click.pass_context
def report(ctx: click.Context, model_path: str, data: str, output: str, title: str | None,
           holdout: str | None, n_samples: int | None, temperature: float, seed: int,
           force: bool, **read: Any) -> None:
    """Write an HTML report on MODEL and the real DATA: selection, fidelity, privacy."""
    settings = ctx.ensure_object(_Settings)
    _check_output(output, force)
    model, extra = _load_model(model_path)
    options = _ReadOptions(**read)
    frames = _table_frames(((data, "--data"), (holdout, "--holdout")), options,
                           extra.get("label"), model)
    if frames is not None:  # a mixed table: the page of report_tables
        from mixsynth.report import build_report, write_report

        page = build_report(model, frames[0], title=title, random_state=seed,
                            n_samples=n_samples, holdout=frames[1], temperature=temperature)
        if output == "-":
            click.echo(page, nl=False)
            return
        write_report(output, page, overwrite=force)
        settings.report(f"wrote {output}")
        return
    table = _read_table(data, options, label=extra.get("label"), param_hint="--data")
    held = None if holdout is None else _read_table(holdout, options, label=extra.get("label"),
                                                    param_hint="--holdout")

    from mixsynth.report import build_report, write_report

    image_shape = extra.get("image_shape") or table.image_shape
    if image_shape is not None and len(image_shape) != 2:
        image_shape = None  # build_report draws grayscale grids only: colour as columns
    page = build_report(model, table.to_input(), title=title, random_state=seed,
                        image_shape=None if image_shape is None else tuple(image_shape),
                        n_samples=n_samples,
                        holdout=None if held is None else held.to_input(),
                        temperature=temperature)
    if output == "-":
        click.echo(page, nl=False)
        return
    write_report(output, page, overwrite=force)
    settings.report(f"wrote {output}")


# --------------------------------------------------------------------------- inspect


@cli.command("inspect", epilog=_EPILOG)
@click.argument("model_path", metavar="MODEL")
@_common_options
def inspect_model(model_path: str) -> None:
    """Print the metadata of MODEL as JSON (its header only: no array is loaded)."""
    import json

    from mixsynth.persistence import read_metadata

    _check_model_path(model_path)
    click.echo(json.dumps(read_metadata(model_path), indent=2, sort_keys=True))


def _classify(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an exception from a command."""
    if isinstance(exc, OutputError):  # before the OSError family: a missing *output* folder
        return EXIT_CANTCREAT, str(exc)
    table = sys.modules.get("mixsynth.io.table")  # loaded if it raised: not imported here
    not_a_file = table is not None and isinstance(exc, table.NotARegularFileError)
    if isinstance(exc, OSError) and (
            isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError)
            or not_a_file):
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


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, like Ctrl-C, so that the same clean-up runs."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While the command runs, SIGTERM raises :class:`Terminated` (where the default is to
    die on the spot, leaving temporary files behind). Only in the main thread, and only where
    nobody installed a SIGTERM handler of their own (an embedding program keeps its own)."""
    import signal
    import threading

    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _interrupted(exc: BaseException | None) -> int:
    if isinstance(exc, Terminated):
        click.echo("mixsynth: terminated", err=True)
        return EXIT_TERMINATED
    click.echo("mixsynth: interrupted", err=True)
    return EXIT_INTERRUPTED


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
        with _sigterm_as_interrupt(), _warnings_to_stderr(settings):
            rv = cli.main(args=args, prog_name="mixsynth", standalone_mode=False, obj=settings)
    except click.Abort as exc:
        # click turns Ctrl-C into Abort (and prints the blank line that closes "^C").
        if isinstance(exc.__cause__, KeyboardInterrupt):
            return _interrupted(exc.__cause__)
        return _fail(settings, EXIT_INTERNAL, "aborted", None)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except SystemExit as exc:  # click exits by itself on a broken pipe and for completion
        return exc.code if isinstance(exc.code, int) else EXIT_INTERNAL
    except Exception as exc:
        code, message = _classify(exc)
        return _fail(settings, code, message, exc)
    return rv if isinstance(rv, int) else EXIT_OK
