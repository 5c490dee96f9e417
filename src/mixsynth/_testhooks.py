"""Deterministic pause points for the interruption tests (a no-op unless a test asks).

A test that signals a running ``mixsynth`` must not guess *when* the process is mid-write:
under load the work may finish before the signal arrives, or not have started. So the code
calls :func:`pause_point` at the moments worth interrupting (a figure written and the fit
about to start, data spooled, a file written but not yet published, an image folder half
written), and a test sets two environment variables:

``MIXSYNTH_TEST_PAUSE_AT``
    The name of the point to stop at.
``MIXSYNTH_TEST_PAUSE_FILE``
    A file the process creates when it gets there (holding its pid); it then waits until a
    signal ends the wait (SIGINT and SIGTERM raise there, SIGKILL ends the process).

The test waits for the file, sends the signal, and checks what is left: no timing involved.
Without the variables the call costs one dictionary lookup.
"""

from __future__ import annotations

import os
import time

__all__ = ["pause_point"]

_AT = "MIXSYNTH_TEST_PAUSE_AT"
_FILE = "MIXSYNTH_TEST_PAUSE_FILE"


def pause_point(name: str, detail: str | None = None) -> None:
    """Stop here, announce it and wait for a signal, if a test asked for the point ``name``
    (or ``name:detail``, e.g. ``atomic-publish:model.mixsynth`` for one file only)."""
    wanted = os.environ.get(_AT)
    if wanted is None or (wanted != name and wanted != f"{name}:{detail}"):
        return
    marker = os.environ.get(_FILE)
    if marker:
        tmp = f"{marker}.{os.getpid()}.part"
        with open(tmp, "w") as f:
            f.write(str(os.getpid()))
        os.replace(tmp, marker)  # the test never sees a half-written marker
    # A signal handler's exception (KeyboardInterrupt, Terminated) ends the wait. In short
    # sleeps: the kernel may deliver the signal to another thread (BLAS, OpenMP), which does not
    # interrupt the main thread's sleep; the handler then runs at the main thread's next
    # bytecode, so one long sleep hid it for up to an hour (a SIGTERM test hung under load).
    while True:
        time.sleep(0.05)
