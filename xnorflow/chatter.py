"""Third-party chatter to a log file: the user's terminal shows xnorflow's own lines and warnings only.

While a command runs, everything written to stdout and stderr (Python's streams and the file descriptors, so
library prints, warnings, logging and the output of tools they start) goes to a log file; xnorflow's own lines
go through `say` (and progress bars through `terminal`) to the streams the user sees. `--verbose` leaves the
streams alone. A build keeps the log as `build.log` (`keep`); a command that crashes leaves it in the temporary
directory and names it.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TextIO

from xnorflow.errors import XnorflowError

_user: list[tuple[TextIO, TextIO, Path]] = []  # (stdout, stderr, log) of each redirection, innermost last


def terminal(err: bool = False) -> TextIO:
    """The user's stdout (or stderr), also while chatter goes to the log."""
    if _user:
        return _user[-1][1 if err else 0]
    return sys.stderr if err else sys.stdout


def say(*parts: object) -> None:
    """Print one of xnorflow's own lines where the user sees it."""
    print(*parts, file=terminal(), flush=True)


def keep(dest: Path) -> None:
    """Copy the log of the running command (so far) to `dest`, e.g. a staged build's build.log; none with --verbose."""
    if _user:
        sys.stdout.flush()
        shutil.copyfile(_user[-1][2], dest)


def _own(stream: TextIO, stack: ExitStack) -> TextIO:
    """A stream to what `stream` writes to now, still writing there once its file descriptor is redirected."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's capture): it is not redirected below
        return stream
    stream.flush()
    return stack.enter_context(open(os.dup(fd), "w", buffering=1, encoding="utf-8", errors="replace"))


@contextmanager
def _redirected(fd: int, sink: TextIO) -> Iterator[None]:
    """File descriptor `fd` writes to `sink` until the block ends."""
    saved = os.dup(fd)
    os.dup2(sink.fileno(), fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


@contextmanager
def to_log(verbose: bool = False) -> Iterator[None]:
    """Run the block with stdout/stderr going to a temporary log (kept and named if the block crashes)."""
    if verbose:
        yield
        return
    handle, name = tempfile.mkstemp(prefix="xnorflow-", suffix=".log")
    log, crashed = Path(name), False
    try:
        with ExitStack() as stack:
            sink = stack.enter_context(open(handle, "w", buffering=1, encoding="utf-8", errors="replace"))
            _user.append((_own(sys.stdout, stack), _own(sys.stderr, stack), log))
            stack.callback(_user.pop)
            for fd in (1, 2):
                stack.enter_context(_redirected(fd, sink))
            stack.callback(setattr, sys, "stdout", sys.stdout)
            stack.callback(setattr, sys, "stderr", sys.stderr)
            sys.stdout = sys.stderr = sink
            try:
                yield
            except Exception as exc:
                crashed = not isinstance(exc, XnorflowError)  # an XnorflowError is a one-line verdict of its own
                raise
    finally:
        if crashed:
            print(f"xnorflow: what the libraries printed is in {log}", file=sys.stderr, flush=True)
        else:
            log.unlink(missing_ok=True)
