"""The atomic writer: complete file or old file, never a partial one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mixsynth.io.atomic as atomic_module
from mixsynth.io import (
    OutputError,
    OutputExistsError,
    atomic_write,
    atomic_write_bytes,
    ensure_can_write,
    ensure_output_dir,
)

OLD = b"old content\n" * 100


def _temps(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f".{name}.*.tmp"))


def test_writes_new_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with atomic_write(target) as f:
        f.write(b"abc")
    assert target.read_bytes() == b"abc"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_text_mode_is_utf8(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_write(target, "w") as f:
        f.write("naïve ∑\n")
    assert target.read_bytes() == "naïve ∑\n".encode()


def test_atomic_write_bytes_returns_path(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    assert atomic_write_bytes(str(target), b"\x00\x01") == target
    assert target.read_bytes() == b"\x00\x01"


def test_refuses_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(OLD)
    with pytest.raises(OutputExistsError, match=r"out\.bin exists; use --force to overwrite"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == OLD
    assert _temps(tmp_path, "out.bin") == []


def test_output_exists_error_is_file_exists_error(tmp_path: Path) -> None:
    target = tmp_path / "x"
    target.touch()
    with pytest.raises(FileExistsError) as info:
        ensure_can_write(target)
    assert isinstance(info.value, OutputError)
    assert info.value.path == target
    assert str(info.value) == f"{target} exists; use --force to overwrite"


def test_refuses_dangling_symlink(tmp_path: Path) -> None:
    target = tmp_path / "link"
    target.symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputExistsError):
        atomic_write_bytes(target, b"new")


def test_overwrite_replaces_and_keeps_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(OLD)
    target.chmod(0o640)
    atomic_write_bytes(target, b"new", overwrite=True)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert _temps(tmp_path, "out.bin") == []


def test_new_file_gets_umask_permissions_not_mkstemp_ones(tmp_path: Path) -> None:
    old_mask = os.umask(0o027)
    try:
        atomic_write_bytes(tmp_path / "f", b"x")
    finally:
        os.umask(old_mask)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o640


def test_exception_mid_write_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(OLD)
    with pytest.raises(RuntimeError, match="boom"), atomic_write(target, overwrite=True) as f:
        f.write(b"partial " * 1000)
        raise RuntimeError("boom")
    assert target.read_bytes() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_keyboard_interrupt_mid_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "new.bin"
    with pytest.raises(KeyboardInterrupt), atomic_write(target) as f:
        f.write(b"partial")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_file_appearing_during_write_is_not_clobbered(tmp_path: Path) -> None:
    target = tmp_path / "race.bin"
    with pytest.raises(OutputExistsError), atomic_write(target) as f:
        f.write(b"mine")
        target.write_bytes(OLD)  # another writer wins the race
    assert target.read_bytes() == OLD
    assert _temps(tmp_path, "race.bin") == []


def test_file_system_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_link(src: object, dst: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(atomic_module.os, "link", no_link)
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"data")
    assert target.read_bytes() == b"data"
    with pytest.raises(OutputExistsError):
        atomic_write_bytes(target, b"again")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_failed_write_is_output_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "full.bin"
    target.write_bytes(OLD)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_module.os, "fsync", disk_full)
    with pytest.raises(OutputError, match=r"cannot write .*full\.bin: No space left on device"):
        atomic_write_bytes(target, b"new", overwrite=True)
    assert target.read_bytes() == OLD
    assert _temps(tmp_path, "full.bin") == []


@pytest.mark.parametrize("mode", ["wb", "w"])
def test_disk_full_while_the_caller_writes_is_output_error_naming_the_file(
        tmp_path: Path, mode: str) -> None:
    """A write inside the block (a format library's, a big text) meeting a full disk is an
    OutputError naming the target (exit 73), not a bare "[Errno 28]"."""
    target = tmp_path / "full.out"
    target.write_bytes(OLD)
    with pytest.raises(OutputError, match=r"^cannot write .*full\.out: No space left on device$"
                       ) as info, atomic_write(target, mode, overwrite=True) as f:
        f.write("x" if mode == "w" else b"x")
        raise OSError(28, "No space left on device")  # what write() raises on a full disk
    assert info.value.errno == 28 and info.value.path == target
    assert target.read_bytes() == OLD
    assert _temps(tmp_path, "full.out") == []


def test_other_errors_inside_the_block_pass_through(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), atomic_write(tmp_path / "x.bin") as f:
        f.write(b"x")
        (tmp_path / "missing-input.csv").read_bytes()  # reading an input: not a write failure
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="No such file or directory") as info:
        atomic_write_bytes(tmp_path / "missing" / "f.bin", b"x")
    assert not isinstance(info.value, FileNotFoundError)  # not a missing *input*


def test_folder_as_target_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="it is a folder"):
        atomic_write_bytes(tmp_path, b"x", overwrite=True)


def test_bad_mode() -> None:
    with pytest.raises(ValueError, match="mode must be"):
        atomic_write("x", "ab")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="text mode"):
        atomic_write("x", "wb", encoding="utf-8")  # type: ignore[call-overload]


def test_ensure_output_dir(tmp_path: Path) -> None:
    folder = ensure_output_dir(tmp_path / "a" / "b")
    assert folder.is_dir()
    assert ensure_output_dir(folder) == folder  # existing is fine
    (tmp_path / "file").touch()
    with pytest.raises(OutputError, match="cannot create output folder"):
        ensure_output_dir(tmp_path / "file")


_CHILD = textwrap.dedent(
    """
    import sys
    from mixsynth.io.atomic import atomic_write

    chunk = b"N" * (1 << 20)
    with atomic_write(sys.argv[1], overwrite=True) as f:
        for _ in range(8):
            f.write(chunk)
        f.flush()
        sys.stdout.write("writing\\n")
        sys.stdout.flush()
        sys.stdin.read()  # mid-write until killed; never reached the rename
    """
)


def _anonymous_supported() -> bool:
    fd = atomic_module._open_anonymous(Path("."))
    if fd is None:
        return False
    os.close(fd)
    return True


_ANONYMOUS = _anonymous_supported()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_write_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "model.bin"
    target.write_bytes(OLD)
    src = Path(atomic_module.__file__).resolve().parents[2]
    path = os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(target)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    try:
        assert child.stdout is not None
        marker = child.stdout.readline()
        if marker != b"writing\n":
            child.kill()
            _, err = child.communicate(timeout=30)
            pytest.fail(f"child did not start writing: {marker!r} {err.decode()}")
        # The child is inside the with block, 8 MiB written; with O_TMPFILE (Linux) the file
        # being written has no name at all, elsewhere it is a recognisable temp file.
        assert len(_temps(tmp_path, "model.bin")) == (0 if _ANONYMOUS else 1)
        assert target.read_bytes() == OLD
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    assert child.returncode == -signal.SIGKILL
    assert target.read_bytes() == OLD  # byte-identical: no partial content under the name
    leftovers = {p.name for p in tmp_path.iterdir()} - {"model.bin"}
    if _ANONYMOUS:
        assert leftovers == set()  # nothing behind: the kernel freed the unnamed file
    else:  # SIGKILL gives no chance to clean up; what remains is recognisably a temp file
        assert all(name.startswith(".model.bin.") and name.endswith(".tmp") for name in leftovers)


@pytest.mark.skipif(not _ANONYMOUS, reason="O_TMPFILE is Linux-only")
@pytest.mark.parametrize("overwrite", [False, True])
def test_unlinkable_unnamed_file_is_copied_into_place(tmp_path, monkeypatch, overwrite):
    import errno

    def refuse(fd: int, dest: Path) -> None:
        raise OSError(errno.EPERM, "no hard links here", str(dest))

    monkeypatch.setattr(atomic_module, "_link_fd", refuse)
    target = tmp_path / "out.bin"
    if overwrite:
        target.write_bytes(OLD)
    payload = os.urandom(3 << 20)
    with atomic_module.atomic_write(target, overwrite=overwrite) as f:
        f.write(payload)
    assert target.read_bytes() == payload
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    with pytest.raises(atomic_module.OutputExistsError), atomic_module.atomic_write(target) as f:
        f.write(b"never")
    assert target.read_bytes() == payload
