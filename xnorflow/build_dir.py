"""Directories that xnorflow writes whole: a marker that says "made by xnorflow", a lock, staged replacement.

A build (or any directory this project replaces whole, such as a build's `rtl/`) is written into a staging
directory `.NAME.xxxx` beside its final place and renamed into place only when complete, so nothing
half-written looks finished. Replacement is allowed only for a directory that holds the marker (an earlier
xnorflow build) or an empty one: never `/`, the home directory, the working directory or one of its
parents, a file, or a folder of the user's. Staging directories carry the marker from their first moment,
so those left by an interrupted run are recognised and removed by the next run under the same lock.
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from xnorflow.errors import XnorflowError

MARKER = ".xnorflow-build"
STAGING = ".xnorflow-staging"  # only in a staging (or replaced, about to be removed) directory
STAGING_NAME = re.compile(r"[a-z0-9_]{8}")  # tempfile.mkdtemp's random part


def is_build(path: Path) -> bool:
    """True when `path` is a directory xnorflow wrote (it holds the marker file)."""
    return (path / MARKER).is_file()


def _protected(out: Path) -> str | None:
    """Why `out` may never be replaced (root, home, the working directory or above it), or None."""
    cwd, home = Path.cwd().resolve(), Path.home().resolve()
    if out == Path(out.anchor):
        return "the file-system root"
    if out == home or out in home.parents:
        return "your home directory" if out == home else "a parent of your home directory"
    if out == cwd or out in cwd.parents:
        return "the working directory" if out == cwd else "a parent of the working directory"
    return None


def check_out(path: str | Path) -> Path:
    """`--out` as an absolute path that a build may write, or one XnorflowError naming why not."""
    out = Path(path).expanduser().resolve()
    fix = "name a new folder for the build, e.g. --out build/NAME"
    why = _protected(out)
    if why:
        raise XnorflowError(f"--out {path} is {why}; a build replaces its output directory whole", fix)
    if Path(path).expanduser().is_symlink():
        raise XnorflowError(f"--out {path} is a symbolic link; a build replaces its output directory whole", fix)
    if out.exists() and not out.is_dir():
        raise XnorflowError(f"--out {path} is a file, not a build directory", fix)
    if out.is_dir() and not is_build(out) and any(out.iterdir()):
        raise XnorflowError(f"--out {path} is a folder that xnorflow did not write (no {MARKER} in it); "
                            "a build replaces its output directory whole", fix + " (or delete this one yourself)")
    parent = next(p for p in out.parents if p.exists())
    if not parent.is_dir():
        raise XnorflowError(f"--out {path} lies inside the file {parent}", fix)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise XnorflowError(f"--out {path}: {parent} is not writable", "choose a folder you can write to")
    return out


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the lock of build directory `out` (`.NAME.lock` beside it); a second writer is refused in one line."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = out.parent / f".{out.name}.lock"
    with open(lock, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not lock.exists() or os.stat(lock).st_ino != os.fstat(handle.fileno()).st_ino:
                raise BlockingIOError  # the holder unlinked it as we opened it: its successor holds the new one
        except BlockingIOError:
            raise XnorflowError(f"another xnorflow command is writing {out}",
                                "wait for it to finish, or build into another --out") from None
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)  # unlinked while still held: a waiting opener sees the lock taken


def clean_stale(final: Path) -> None:
    """Remove staging directories of `final` (`.NAME.xxxxxxxx` marked as staging) an interrupted run left behind."""
    prefix = f".{final.name}."
    for path in final.parent.iterdir() if final.parent.is_dir() else ():
        name = path.name
        if name.startswith(prefix) and STAGING_NAME.fullmatch(name[len(prefix):]) and path.is_dir() \
                and not path.is_symlink() and (path / STAGING).is_file():
            shutil.rmtree(path, ignore_errors=True)


def stage(final: Path) -> Path:
    """A new, marked staging directory beside `final`."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    (tmp / STAGING).write_text("being written by xnorflow; removed when unfinished\n")
    (tmp / MARKER).write_text("written by xnorflow; a later build may replace this directory\n")
    return tmp


def publish(tmp: Path, final: Path) -> None:
    """Move finished staging directory `tmp` to `final`, replacing an earlier build (or empty folder) there."""
    if final.is_symlink() or (final.exists() and not is_build(final) and any(final.iterdir())):
        raise XnorflowError(f"{final} is not an xnorflow build directory", "name a new folder for the output")
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        os.replace(final, old)  # onto an empty directory: atomic on POSIX
        (old / STAGING).write_text("replaced by a newer build; removed\n")
    (tmp / STAGING).unlink()
    try:
        os.replace(tmp, final)
    except BaseException:
        if old is not None:
            os.replace(old, final)
            (final / STAGING).unlink()
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def replacing(out: str | Path) -> Iterator[Path]:
    """Check `out`, lock it, clear stale staging, yield a staging directory; publish it only on success."""
    final = check_out(out)
    with locked(final):
        clean_stale(final)
        tmp = stage(final)
        try:
            yield tmp
            publish(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
