"""The cache of compiled Verilator models: where it lives, a size cap (least recently used go first), clearing.

Each entry is one directory `TOP-HASH` (20 hex digits) holding the executable `Vdut`; a compile works in
`build-xxxxxxxx` beside it and renames it into place. The Verilator runtime library's objects, the same for every
model, are kept once per flags and compiler in `verilated_runtime-HASH`. Only directories of exactly those names are
ever removed, so pointing $XNORFLOW_CACHE at a folder of the user's does not delete their files.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

EXE = "Vdut"
ENTRY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*-[0-9a-f]{20}")  # TOP-HASH (verilator._cache_key)
RUNTIME_PREFIX = "verilated_runtime-"  # + 20 hex digits (verilator._runtime_dir)
BUILD_NAME = re.compile(r"build-[a-z0-9_]{8}")  # tempfile.mkdtemp(prefix="build-")
DEFAULT_MAX_MB = 1024
STALE_BUILD_S = 3600  # a compile of even a whole design takes minutes: older work dirs were interrupted


def cache_dir() -> Path:
    """Where compiled models live: $XNORFLOW_CACHE/verilator, else ~/.cache/xnorflow/verilator."""
    base = os.environ.get("XNORFLOW_CACHE") or Path.home() / ".cache" / "xnorflow"
    return Path(base) / "verilator"


def max_bytes() -> int:
    """The cache's size cap: $XNORFLOW_CACHE_MAX_MB megabytes (default 1024)."""
    return int(float(os.environ.get("XNORFLOW_CACHE_MAX_MB", DEFAULT_MAX_MB)) * 2**20)


@dataclass(frozen=True)
class Entry:
    """One compiled model: its directory, bytes on disk and time of last use."""

    path: Path
    size: int
    used: float


def _dirs(name_ok: Callable[[str], object]) -> list[Path]:
    """The cache's directories (not links) whose names pass `name_ok`: the only ones it ever removes."""
    root = cache_dir()
    return [p for p in root.iterdir() if name_ok(p.name) and p.is_dir() and not p.is_symlink()] if root.is_dir() else []


def _size(path: Path) -> int:
    """Bytes of the files under `path`."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def entries() -> list[Entry]:
    """Compiled models in the cache, least recently used first."""
    found = [p for p in _dirs(ENTRY_NAME.fullmatch) if (p / EXE).is_file()]
    return sorted((Entry(p, _size(p), (p / EXE).stat().st_mtime) for p in found), key=lambda e: e.used)


def touch(exe: Path) -> None:
    """Mark a compiled model as just used (the cap evicts by last use)."""
    os.utime(exe)


def _stale_builds() -> list[Path]:
    """Compile work directories left by interrupted runs."""
    now = time.time()
    return [p for p in _dirs(BUILD_NAME.fullmatch) if now - p.stat().st_mtime > STALE_BUILD_S]


def trim(keep: Path | None = None) -> list[Path]:
    """Evict least recently used models until the cache is under its cap (never `keep`); the removed paths."""
    removed = _stale_builds()
    items = entries()
    total = sum(e.size for e in items)
    for e in items:
        if total <= max_bytes():
            break
        if e.path != keep:
            removed.append(e.path)
            total -= e.size
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def _runtimes() -> list[Path]:
    """Directories of kept runtime-library objects."""
    return _dirs(lambda name: name.startswith(RUNTIME_PREFIX) and ENTRY_NAME.fullmatch(name))


def clear() -> tuple[int, int]:
    """Remove every compiled model, kept runtime object and stale work directory; (models removed, bytes freed)."""
    items = entries()
    for path in [e.path for e in items] + _runtimes() + _stale_builds():
        shutil.rmtree(path, ignore_errors=True)
    return len(items), sum(e.size for e in items)
