"""Run a function in a forked child and read back what it reports.

A forked child keeps the already-imported interpreter and rwalk's module state as the
fork left it: what a test needs when that state is the subject (threads forgotten in
the child), or when the child must drop root privileges (exec'ing this Python as an
unprivileged user would fail: it lives under /root, mode 0700).
"""

from __future__ import annotations

import os
import select
import signal
import warnings
from collections.abc import Callable


def report_from_child(child: Callable[[], bytes], timeout: float = 60.0) -> bytes:
    """Fork; the child writes what ``child()`` returns to a pipe; return what it wrote.

    The child then ends at once (``os._exit``: no exit handlers, no pytest teardown).
    A child that raises reports nothing; one that hangs is killed after ``timeout``
    seconds, so that the test fails instead of waiting for ever.
    """
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # 3.12+ warns that fork() in a process with threads may deadlock the child;
        # the children here only walk and write to a pipe.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.close(read_end)
            os.write(write_end, child())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        if not select.select([pipe], [], [], timeout)[0]:
            os.kill(pid, signal.SIGKILL)
        report = pipe.read()
    os.waitpid(pid, 0)
    return report
