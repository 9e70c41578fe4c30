"""The compiled-model cache is bounded (least recently used evicted first) and `xnorflow cache --clear` empties it,
touching nothing in the cache folder that is not a compiled model."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from xnorflow.cli import main
from xnorflow.hw import model_cache
from xnorflow.hw.ops import module_sources
from xnorflow.hw.verilator import Design, Stream, simulate

pytestmark = pytest.mark.fast  # the everyday tier: `make test-fast`


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache under tmp_path."""
    monkeypatch.setenv("XNORFLOW_CACHE", str(tmp_path))
    return model_cache.cache_dir()


def fake_model(cache: Path, name: str, mb: float, age_s: float) -> Path:
    """A compiled-model entry of `mb` megabytes last used `age_s` seconds ago."""
    entry = cache / f"xnorflow_top-{name * 20}"
    entry.mkdir(parents=True)
    exe = entry / model_cache.EXE
    exe.write_bytes(b"\0" * int(mb * 2**20))
    os.utime(exe, (time.time() - age_s,) * 2)
    return entry


def test_trim_evicts_least_recently_used(cache, monkeypatch):
    """Over the cap, the oldest entries go until the rest fit; the one just built stays; other files stay."""
    old, mid, new = (fake_model(cache, n, 1.0, age) for n, age in (("a", 300), ("b", 200), ("c", 100)))
    (cache / "README").write_text("not a model\n")
    stale = cache / "build-x1x1x1x1"
    stale.mkdir()
    os.utime(stale, (time.time() - 2 * model_cache.STALE_BUILD_S,) * 2)
    fresh = cache / "build-x2x2x2x2"
    users = cache / "build-release"  # a user's folder: not a compile dir name, never removed
    users.mkdir()
    os.utime(users, (time.time() - 2 * model_cache.STALE_BUILD_S,) * 2)
    fresh.mkdir()
    monkeypatch.setenv("XNORFLOW_CACHE_MAX_MB", "2.5")
    removed = model_cache.trim(keep=new)
    assert sorted(p.name for p in removed) == ["build-x1x1x1x1", "xnorflow_top-" + "a" * 20]
    assert not old.exists() and mid.exists() and new.exists() and fresh.exists() and users.exists()
    assert (cache / "README").is_file()
    monkeypatch.setenv("XNORFLOW_CACHE_MAX_MB", "0.5")
    model_cache.trim(keep=new)
    assert [e.path for e in model_cache.entries()] == [new]


def test_touch_makes_an_entry_recent(cache):
    """Reusing a compiled model moves it to the back of the eviction queue."""
    a, b = fake_model(cache, "a", 0.1, 300), fake_model(cache, "b", 0.1, 100)
    model_cache.touch(a / model_cache.EXE)
    assert [e.path for e in model_cache.entries()] == [b, a]


def test_cache_command_shows_and_clears(cache, capsys):
    """`xnorflow cache` reports count, size and cap; `--clear` removes the models only."""
    fake_model(cache, "a", 1.0, 10)
    fake_model(cache, "b", 1.0, 20)
    (cache / "notes.txt").write_text("keep\n")
    assert main(["cache"]) == 0
    assert "cache: 2 compiled models, 2.0 MB of a 1024 MB cap" in capsys.readouterr().out
    assert main(["cache", "--clear"]) == 0
    assert "removed 2 compiled models (2.0 MB)" in capsys.readouterr().out
    assert model_cache.entries() == [] and (cache / "notes.txt").is_file()


def test_runtime_library_is_compiled_once(cache, monkeypatch, rng):
    """The first model keeps Verilator's runtime objects; the next model's make compiles only its own files, and
    both models simulate correctly; `--clear` removes the kept objects too."""
    makes: list[str] = []
    real_run = subprocess.run

    def run(args, **kw):
        proc = real_run(args, **kw)
        if args[0] == "make":
            makes.append(proc.stdout)
        return proc

    monkeypatch.setattr(subprocess, "run", run)
    for depth in (5, 6):
        fifo = Design("stream_fifo", module_sources("stream_fifo"), (Stream("in0_V", 8),), (Stream("out0_V", 8),),
                      {"W": 8, "DEPTH": depth})
        words = rng.integers(0, 256, (20, 1), dtype=np.uint8)
        np.testing.assert_array_equal(simulate(fifo, {"in0_V": words}, {"out0_V": 20}).outputs["out0_V"], words)
    assert "verilated.cpp" in makes[0] and "verilated.cpp" not in makes[1] and "axis_tb.cpp" in makes[1]
    assert len(list(cache.glob(model_cache.RUNTIME_PREFIX + "*"))) == 1
    assert main(["cache", "--clear"]) == 0
    assert list(cache.iterdir()) == []
