"""The one atomic writer: every file mixsynth writes goes through :func:`atomic_write`.

The bytes go to a temporary file in the target's own folder (same file system, so the final
rename is atomic), are flushed and ``fsync``-ed, and only then take the target's name with one
``rename``. A crash, a kill or an exception before that rename leaves the old file byte-identical
and never a partial file under the target's name. Temporary files are named
``.<target name>.<random>.tmp`` so that one left behind by ``SIGKILL`` or a power cut is easy to
recognise; the writer removes its temporary file itself on every exception it sees.

Without ``overwrite`` the final step is a hard link, which fails atomically if the target has
appeared meanwhile, so a concurrent writer is never silently clobbered either.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload

from mixsynth._testhooks import pause_point

__all__ = [
    "OutputError",
    "OutputExistsError",
    "atomic_write",
    "atomic_write_bytes",
    "ensure_can_write",
    "ensure_output_dir",
]

#: Errors of a write to the file being filled (rather than, say, of reading an input there).
_WRITE_ERRNOS = frozenset(getattr(errno, name) for name in
                          ("ENOSPC", "EDQUOT", "EFBIG", "EIO", "EROFS") if hasattr(errno, name))
_TEXT_MODES = frozenset({"w", "wt"})
_BINARY_MODES = frozenset({"wb"})


class OutputError(OSError):
    """An output file or folder cannot be created (the CLI exits with 73).

    Parameters
    ----------
    message : str
        One line saying what could not be written and why.
    path : path-like, optional
        The output concerned, kept in :attr:`path`.
    errno_ : int, optional
        The operating system's error number, when there is one, kept in :attr:`errno`.
    """

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None,
                 errno_: int | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else Path(path)
        if errno_ is not None:
            self.errno = errno_

    def __str__(self) -> str:
        # OSError formats "[Errno N] strerror: filename" once errno is set; keep our one line.
        return str(self.args[0])


class OutputExistsError(OutputError, FileExistsError):
    """The output exists and overwriting it was not asked for."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(f"{os.fspath(path)} exists; use --force to overwrite",
                         path=path, errno_=errno.EEXIST)


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def ensure_can_write(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Refuse early an output that exists, before any costly work is done.

    Parameters
    ----------
    path : path-like
        The output file.
    overwrite : bool, default=False
        Whether an existing file may be replaced.

    Returns
    -------
    path : Path

    Raises
    ------
    OutputExistsError
        If ``path`` exists (a dangling symbolic link counts) and ``overwrite`` is false.
    OutputError
        If ``path`` is a folder.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder", path=path, errno_=errno.EISDIR)
    if not overwrite and (path.exists() or path.is_symlink()):
        raise OutputExistsError(path)
    return path


def ensure_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create the output folder ``path`` and its parents if missing.

    Raises
    ------
    OutputError
        If the folder cannot be created (a file has the name, no permission, ...).
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {path}: {_describe(exc)}",
                          path=path, errno_=exc.errno) from exc
    return path


def _default_mode() -> int:
    """Permissions a plain ``open(path, "w")`` would give: 0o666 less the umask."""
    # os.umask can only be read by setting it; /proc avoids that race where it exists.
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; best effort (some systems cannot open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _publish(tmp: Path, path: Path, *, overwrite: bool) -> None:
    """Give the finished temporary file the target's name, atomically."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        # link() fails if the target exists, closing the race between check and rename.
        os.link(tmp, path)
    except FileExistsError:
        raise OutputExistsError(path) from None
    except OSError:
        # File systems without hard links: check, then rename.
        if path.exists() or path.is_symlink():
            raise OutputExistsError(path) from None
        os.replace(tmp, path)
    else:
        with contextlib.suppress(OSError):  # published already; a stray temp is harmless
            os.unlink(tmp)


@overload
def atomic_write(path: str | os.PathLike[str], mode: Literal["wb"] = ..., *,
                 overwrite: bool = ..., encoding: None = ...,
                 newline: None = ...) -> contextlib.AbstractContextManager[IO[bytes]]: ...
@overload
def atomic_write(path: str | os.PathLike[str], mode: Literal["w", "wt"], *,
                 overwrite: bool = ..., encoding: str | None = ...,
                 newline: str | None = ...) -> contextlib.AbstractContextManager[IO[str]]: ...
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", *, overwrite: bool = False,
                 encoding: str | None = None,
                 newline: str | None = None) -> contextlib.AbstractContextManager[IO[Any]]:
    """Open ``path`` for writing so that it appears complete or not at all.

    Parameters
    ----------
    path : path-like
        The target file. Its folder must exist.
    mode : {"wb", "w", "wt"}, default="wb"
        Binary or text writing.
    overwrite : bool, default=False
        Whether an existing target may be replaced.
    encoding : str, optional
        Text mode only; UTF-8 when not given.
    newline : str, optional
        Text mode only, as for :func:`open`.

    Yields
    ------
    file : file object
        Write to it inside the ``with`` block. When the block ends normally the data is
        flushed, ``fsync``-ed and renamed onto ``path``; when it raises (any exception,
        ``KeyboardInterrupt`` included) the temporary file is removed, ``path`` is left as it
        was and the exception propagates.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is false (checked on entry and again, atomically,
        when publishing).
    OutputError
        If the temporary file cannot be created, synced or renamed (missing folder, no
        permission, disk full when flushing).
    ValueError
        For a mode other than "wb", "w" or "wt", or an encoding in binary mode.

    Examples
    --------
    >>> with atomic_write("samples.csv", "w", overwrite=True) as f:  # doctest: +SKIP
    ...     f.write("x,y\\n")
    """
    if mode not in _TEXT_MODES | _BINARY_MODES:
        raise ValueError(f"mode must be 'wb', 'w' or 'wt', got {mode!r}")
    if mode in _BINARY_MODES and (encoding is not None or newline is not None):
        raise ValueError("encoding and newline apply to text mode ('w') only")
    return _atomic_write(Path(path), mode, overwrite=overwrite,
                         encoding=(encoding or "utf-8") if mode in _TEXT_MODES else None,
                         newline=newline)


def _open_anonymous(folder: Path) -> int | None:
    """An unnamed file in ``folder`` (Linux ``O_TMPFILE``), or None where that is unsupported.

    Until it is linked into place it has no name, so a process killed mid-write (SIGKILL, power
    loss) leaves nothing behind: the kernel frees the inode.
    """
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(folder, flag | os.O_RDWR | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError:  # a file system or kernel without O_TMPFILE; the caller falls back
        return None


def _link_fd(fd: int, dest: Path) -> None:
    """``linkat(AT_FDCWD, "/proc/self/fd/N", AT_FDCWD, dest, AT_SYMLINK_FOLLOW)``: give the
    unnamed file a name (open(2), O_TMPFILE). Python 3.11's os.link calls link(), which does
    not follow the /proc magic link."""
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, at_symlink_follow = -100, 0x400
    result = libc.linkat(at_fdcwd, f"/proc/self/fd/{fd}".encode(), at_fdcwd, os.fsencode(dest),
                         at_symlink_follow)
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(dest))


def _publish_by_copy(fd: int, path: Path, *, overwrite: bool) -> None:
    """Where the unnamed file cannot be linked: copy it into a named temp file and rename."""
    fd2, tmp_name = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".",
                                     suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with contextlib.suppress(OSError):
            os.fchmod(fd2, stat.S_IMODE(os.fstat(fd).st_mode))
        offset = 0
        while chunk := os.pread(fd, 1 << 20, offset):
            os.write(fd2, chunk)
            offset += len(chunk)
        os.fsync(fd2)
    except BaseException:
        os.close(fd2)
        tmp.unlink()
        raise
    os.close(fd2)
    if not overwrite and (path.exists() or path.is_symlink()):
        tmp.unlink()
        raise OutputExistsError(path)
    os.replace(tmp, path)


def _publish_anonymous(fd: int, path: Path, *, overwrite: bool) -> None:
    """Link the unnamed file at ``fd`` into place: exclusively, or over the old target."""
    try:
        _publish_linked(fd, path, overwrite=overwrite)
    except OutputError:
        raise
    except FileExistsError:
        raise OutputExistsError(path) from None
    except OSError:  # no hard links here (EPERM, EXDEV, ENOSYS): copy, then rename
        _publish_by_copy(fd, path, overwrite=overwrite)


def _publish_linked(fd: int, path: Path, *, overwrite: bool) -> None:
    if not overwrite:
        _link_fd(fd, path)  # fails with EEXIST if the target exists: no check-then-act race
        return
    for _ in range(100):  # a free name for the instant between link() and rename()
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            _link_fd(fd, tmp)
        except FileExistsError:
            continue
        try:
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return
    raise OutputError(f"cannot write {path}: no free temporary name", path=path)


@contextlib.contextmanager
def _atomic_write(path: Path, mode: str, *, overwrite: bool, encoding: str | None,
                  newline: str | None) -> Iterator[IO[Any]]:
    ensure_can_write(path, overwrite=overwrite)
    folder = path.parent
    anonymous = _open_anonymous(folder) if folder.is_dir() else None
    if anonymous is not None:  # Linux: an unnamed file, linked into place when complete
        unnamed: int = anonymous
        try:
            with _fill(unnamed, path, mode, overwrite=overwrite, encoding=encoding,
                       newline=newline, closefd=False,
                       publish=lambda: _publish_anonymous(unnamed, path, overwrite=overwrite)
                       ) as f:
                yield f
        finally:
            os.close(unnamed)
        _fsync_dir(folder)
        return
    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix="." + path.name + ".", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_describe(exc)}",
                          path=path, errno_=exc.errno) from exc
    tmp = Path(tmp_name)
    published = False
    try:
        with _fill(fd, path, mode, overwrite=overwrite, encoding=encoding, newline=newline,
                   closefd=True, publish=lambda: _publish(tmp, path, overwrite=overwrite)) as f:
            yield f
        published = True
    finally:
        if not published:
            with contextlib.suppress(OSError):
                tmp.unlink()
    _fsync_dir(folder)


@contextlib.contextmanager
def _fill(fd: int, path: Path, mode: str, *, overwrite: bool, encoding: str | None,
          newline: str | None, closefd: bool, publish: Callable[[], None]) -> Iterator[IO[Any]]:
    """Yield ``fd`` as a file with the permissions an ordinary open() would give (or those of
    the file it replaces: mkstemp makes 0o600), sync it, then ``publish()`` it; any failure is
    an :class:`OutputError`."""
    try:
        file_mode = stat.S_IMODE(path.stat().st_mode) if overwrite else _default_mode()
    except OSError:
        file_mode = _default_mode()
    with contextlib.suppress(OSError, AttributeError):  # no fchmod on Windows
        os.fchmod(fd, file_mode)
    f = os.fdopen(fd, mode, encoding=encoding, newline=newline, closefd=closefd)
    done = False
    try:
        try:
            yield f
        except OSError as exc:
            if isinstance(exc, OutputError) or exc.errno not in _WRITE_ERRNOS:
                raise
            # The caller's (or its format library's) write failed: disk full, quota, file
            # too large, I/O error. Say which output, not a bare "[Errno 28]".
            raise OutputError(f"cannot write {path}: {_describe(exc)}",
                              path=path, errno_=exc.errno) from exc
        pause_point("atomic-publish", path.name)  # written, not yet published: tests signal
        try:
            f.flush()
            os.fsync(f.fileno())
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {_describe(exc)}",
                              path=path, errno_=exc.errno) from exc
        done = True
    finally:
        if done:
            f.close()
        else:  # the file is thrown away: what is still buffered may fail to flush; no matter
            with contextlib.suppress(OSError):
                f.close()
    try:
        publish()
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_describe(exc)}",
                          path=path, errno_=exc.errno) from exc


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | bytearray | memoryview, *,
                       overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`).

    Parameters
    ----------
    path : path-like
        The target file.
    data : bytes-like
        The whole content.
    overwrite : bool, default=False
        Whether an existing target may be replaced.

    Returns
    -------
    path : Path
        The file written.

    Raises
    ------
    OutputExistsError, OutputError
        As :func:`atomic_write`; a failed write (disk full) is an :class:`OutputError` too.
    """
    path = Path(path)
    with atomic_write(path, "wb", overwrite=overwrite) as f:
        try:
            f.write(data)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {_describe(exc)}",
                              path=path, errno_=exc.errno) from exc
    return path
