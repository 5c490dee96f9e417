"""Run ``mixsynth`` in a subprocess, stop it at a named point, signal it: no timing involved.

The child is started with ``MIXSYNTH_TEST_PAUSE_AT`` (see :mod:`mixsynth._testhooks`): when it
reaches that point it writes a marker file and sleeps until a signal arrives. The test waits
for the marker (the deadline only turns a hang into a failure; it never decides the outcome),
then sends the signal, so the signal always lands at the same place however loaded the machine.

The child starts with the default disposition of SIGINT and SIGTERM whatever this process has:
a test run started in the background by a shell (``make test &``, CI runners, ``nohup``) has
SIGINT ignored, every child inherits that, and Python installs no ``KeyboardInterrupt`` handler
in a process that starts with SIGINT ignored, so the child slept through the test's SIGINT (a
fresh-clone soak went red on exactly that).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import mixsynth

SRC = Path(mixsynth.__file__).resolve().parents[1]
#: Generous: only a broken child ever takes this long to reach its pause point.
DEADLINE_S = 300.0


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    env.pop("MIXSYNTH_TEST_PAUSE_AT", None)
    env.pop("MIXSYNTH_TEST_PAUSE_FILE", None)
    env.update(extra or {})
    return env


def run_cli(args: Sequence[str], *, env: Mapping[str, str] | None = None,
            stdin: bytes | None = None, timeout: float = DEADLINE_S) -> Outcome:
    """``python -m mixsynth ARGS`` to the end."""
    done = subprocess.run([sys.executable, "-m", "mixsynth", *args], input=stdin,
                          capture_output=True, env=child_env(env), timeout=timeout)
    return Outcome(done.returncode, done.stdout.decode(errors="replace"),
                   done.stderr.decode(errors="replace"))


def interrupt_at(point: str, args: Sequence[str], sig: int, tmp: Path, *,
                 stdin: bytes | None = None, env: Mapping[str, str] | None = None,
                 group: bool = False, to_a_thread: bool = False) -> Outcome:
    """Run ``mixsynth ARGS``, wait until it reaches ``point``, send ``sig``, return the outcome.

    With ``group``, the child leads a process group of its own and the signal goes to the
    whole group, as a Ctrl-C at a terminal does (its worker processes get it too); the group
    is checked empty afterwards (no orphan processes). With ``to_a_thread`` (Linux), the signal
    goes to one of the child's threads other than the main one, as the kernel may choose to
    deliver a process-directed signal (see :func:`_to_other_thread`)."""
    marker = tmp / f"paused-{point}-{int(sig)}"
    marker.unlink(missing_ok=True)
    full_env = child_env({**(env or {}), "MIXSYNTH_TEST_PAUSE_AT": point,
                          "MIXSYNTH_TEST_PAUSE_FILE": str(marker)})
    out_path, err_path = tmp / f"{marker.name}.out", tmp / f"{marker.name}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        child = subprocess.Popen([sys.executable, "-m", "mixsynth", *args],
                                 stdin=subprocess.PIPE if stdin is not None else None,
                                 stdout=out, stderr=err, env=full_env,
                                 start_new_session=group, preexec_fn=_default_signals)
        try:
            if stdin is not None:
                _feed(child.stdin, stdin)
            _wait_for(marker, child)
            if group:
                os.killpg(child.pid, sig)
            elif to_a_thread:
                _to_other_thread(child.pid, sig)
            else:
                child.send_signal(sig)
            child.wait(timeout=DEADLINE_S)
            if group:
                _wait_group_gone(child.pid)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    marker.unlink(missing_ok=True)
    outcome = Outcome(child.returncode, out_path.read_text(errors="replace"),
                      err_path.read_text(errors="replace"))
    out_path.unlink()
    err_path.unlink()
    return outcome


def _to_other_thread(pid: int, sig: int) -> None:
    """Send ``sig`` to a thread of process ``pid`` that is not its main thread (``tgkill``)."""
    import ctypes

    others = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid)
    if not others:
        raise AssertionError(f"process {pid} has no thread but its main one")
    number = {"x86_64": 234, "aarch64": 131}[os.uname().machine]  # SYS_tgkill
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, pid, others[0], sig) != 0:
        raise OSError(ctypes.get_errno(), "tgkill failed")


def _default_signals() -> None:
    """In the child, before it runs Python: SIGINT and SIGTERM at their defaults (module
    docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _feed(pipe: IO[bytes] | None, data: bytes) -> None:
    assert pipe is not None
    pipe.write(data)
    pipe.close()


def _wait_for(marker: Path, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not marker.exists():
        if child.poll() is not None:
            raise AssertionError(f"the child exited ({child.returncode}) before reaching its "
                                 f"pause point {marker.name}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the child never reached {marker.name}")
        time.sleep(0.01)


def _wait_group_gone(pgid: int) -> None:
    """The processes the child started end with it (the deadline turns a hang into a failure)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            os.killpg(pgid, signal.SIGKILL)
            raise AssertionError("processes of the interrupted command outlived it")
        time.sleep(0.05)


SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}
