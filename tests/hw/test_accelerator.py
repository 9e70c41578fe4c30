"""Whole accelerators: registry models (random weights, BN stats randomised) through export ->
build_hw_graph -> rtl -> sim, every output word equal to FINN's python execution of hw.onnx, at
full rate and with random input gaps and output ready drops; report.json sections; the bitfile
target's one-line stop; folding and board errors."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from torch import nn

from xnorflow.build_flows.export import export
from xnorflow.build_flows.hw_graph import build_hw_graph
from xnorflow.errors import XnorflowError
from xnorflow.hw import accelerator
from xnorflow.hw.accelerator import build_target, simulate_build
from xnorflow.hw.build import open_build
from xnorflow.hw.boards import board
from xnorflow.hw.verilator import SimulationDeadlock, lint

sys.path.insert(0, str(Path(__file__).parents[1] / "build_flows"))
import probes  # noqa: E402
from probes import randomize_bn  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))  # finn_bnn_pynq: FINN's TFC at finn-examples' folding


FOLDING = "6000"  # cycles/frame: small RTL, so the one Verilator compile per model stays short
MAX_RATIO = 1.02  # simulated cycles/frame over the analytical bound (steady state): FIFOs sized for full rate


def hw_graph(tmp_dir: Path, name: str, model: torch.nn.Module, shape=(1, 1, 8, 8), seed: int = 0) -> Path:
    """Export a model with BN statistics randomised, build its HW graph."""
    randomize_bn(model, torch.Generator().manual_seed(seed))
    export(model, shape, tmp_dir / f"{name}.onnx")
    build_hw_graph(tmp_dir / f"{name}.onnx", tmp_dir / name)
    return tmp_dir / name


def registry_graph(tmp_dir: Path, name: str, seed: int = 0) -> Path:
    """A registry model with its initial weights (seeded) through hw_graph."""
    from xnorflow.build_flows.pipeline import name_source
    return hw_graph(tmp_dir, name, name_source(name, None, seed).model, seed=seed)


@pytest.fixture(scope="module")
def bireal_dir(tmp_path_factory, tiny_graph) -> Path:
    """tiny-bireal's hw-graph build directory (built once per session, see conftest.tiny_graph)."""
    return tiny_graph("tiny-bireal", tmp_path_factory.mktemp("bireal") / "tiny-bireal")


def copy_of(src: Path, dst: Path) -> Path:
    """A fresh copy of a build directory, so tests do not share written targets."""
    shutil.copytree(src, dst)
    return dst


def test_tiny_bireal_bit_exact(bireal_dir, tmp_path):
    """Bit-exact at full rate and with gaps/stalls (sim_report raises otherwise), near the bound."""
    out = build_target(copy_of(bireal_dir, tmp_path / "b"), "sim", "Pynq-Z2", FOLDING, frames=4)
    sim = out["sim"]
    assert sim["bit_exact"] and sim["frames"] == 4
    assert sim["ratio_to_bound"] <= MAX_RATIO
    rep = json.loads((tmp_path / "b" / "report.json").read_text())
    assert {"layers", "rtl", "sim"} <= set(rep)
    assert (tmp_path / "b" / "rtl" / "xnorflow_top.sv").exists()


def test_rtl_holds_the_shell(bireal_dir, tmp_path):
    """Every build's rtl/ holds xnorflow_shell around the core, its sources in rtl/, lint-clean; design.json's
    shell entry: the board's AXI widths, the build ID, DDR frame layouts of whole AXI beats and whole words."""
    build_target(copy_of(bireal_dir, tmp_path / "b"), "rtl", "Ultra96", FOLDING)
    built = open_build(tmp_path / "b")
    entry = built.shell_manifest
    assert built.shell.top == "xnorflow_shell" and all(s.parent == tmp_path / "b" / "rtl" for s in built.shell.sources)
    assert {s.name for s in built.design.sources} <= {s.name for s in built.shell.sources}
    assert (entry["axi_bits"], entry["addr_bits"], entry["build_id"]) == (128, 40, built.inputs[:16])
    for side, port in (("in", built.in_port), ("out", built.out_port)):
        layout = entry[side]
        assert (layout["word_bytes"], layout["words_per_frame"]) == (port.stream.nbytes, port.words)
        assert layout["stride"] % 16 == 0 and layout["stride"] % layout["word_bytes"] == 0
        assert 0 <= layout["stride"] - layout["words_per_frame"] * layout["word_bytes"] < 16 * layout["word_bytes"]
    assert entry["weights"] == []
    lint(built.shell)


@pytest.mark.slow  # one more stitched Verilator compile (minutes on 2 cores)
def requantizer_pieces(build: Path) -> list[int]:
    """Pieces of every Requantize node of a build's hw.onnx, 0 for every ChannelwiseLUT left."""
    model = ModelWrapper(str(build / "hw.onnx"))
    return [getCustomOp(n).get_nodeattr("Pieces") if n.op_type == "Requantize" else 0
            for n in model.graph.node if n.op_type in ("Requantize", "ChannelwiseLUT")]


def test_reactnet_blocks_bit_exact(tmp_path):
    """RSign, RPReLU (negative slopes) as two-piece Requantize layers, no lookup table left, concat and the
    avg-pool shortcut (build_flows' probe), in RTL."""
    build = hw_graph(tmp_path, "reactnet-probe", probes.seeded(probes.reactnet_probe, 0), (1, 1, 12, 12))
    pieces = requantizer_pieces(build)
    assert 2 in pieces and 0 not in pieces
    sim = build_target(build, "sim", "Ultra96", FOLDING, frames=3)["sim"]
    assert sim["bit_exact"]


FULL_SIZE_FOLDING = "100000"  # cycles/frame for bireal18-cifar: its slowest layers fold to 98,304


@pytest.mark.slow  # full-size network: a 181-layer Verilator compile and ~2 M simulated cycles
def test_bireal18_cifar_full_size_bit_exact(tmp_path):
    """bireal18-cifar at full size (initial weights, BN statistics randomised) through hw-graph, rtl and sim at a
    cycles/frame target, its weights on chip (fitting the Pynq-Z2's block RAM needs them in DDR): bit-exact on 2
    frames, with and without gaps, and at the bound."""
    from xnorflow.build_flows.pipeline import name_source
    source = name_source("bireal18-cifar", None, 0)
    build = hw_graph(tmp_path, "bireal18-cifar", source.model, source.input_shape)
    sim = build_target(build, "sim", "Pynq-Z2", FULL_SIZE_FOLDING, frames=2)["sim"]
    print(f"bireal18-cifar at folding {FULL_SIZE_FOLDING}: {sim['cycles_per_frame']:.0f} cycles/frame against the "
          f"bound {sim['analytical_bound']} (ratio {sim['ratio_to_bound']}), latency {sim['latency_cycles']} cycles")
    assert sim["bit_exact"] and sim["ratio_to_bound"] <= MAX_RATIO


@pytest.mark.parametrize("name", ["tiny-reactnet", "tiny-hyperbnn"])
def test_tiny_model_bit_exact(tmp_path, tiny_graph, name):
    """The registry's other buildable tiny models through hw-graph, rtl and sim: bit-exact, near the bound;
    tiny-reactnet's RPReLU tables as two-piece Requantize layers (none left as a lookup table)."""
    build = tiny_graph(name, tmp_path / name)
    assert 0 not in requantizer_pieces(build) and (name != "tiny-reactnet" or 2 in requantizer_pieces(build))
    sim = build_target(build, "sim", "Ultra96", FOLDING, frames=3)["sim"]
    assert sim["bit_exact"] and sim["ratio_to_bound"] <= MAX_RATIO


@pytest.mark.parametrize("name", ["tiny-bireal", "tiny-reactnet", "tiny-hyperbnn", "tiny-real2bin"])
def test_tiny_model_fitted_to_board_at_bound(tmp_path, tiny_graph, name):
    """Every buildable tiny model fitted to the Pynq-Z2 (several layers at the bound; the shortcut FIFOs cover the
    long branch's pipeline latency): bit-exact and at the bound in steady state (frames 9 to 16 of 16: the
    pipeline fills over the first few)."""
    sim = build_target(tiny_graph(name, tmp_path / name), "sim", "Pynq-Z2", None, frames=8)["sim"]
    assert sim["bit_exact"] and sim["ratio_to_bound"] <= MAX_RATIO


@pytest.fixture(scope="module")
def two_bit_dir(tmp_path_factory) -> Path:
    """A user's 2-bit net (probes.two_bit_probe) exported with Brevitas' export_qonnx, built by pipeline.build."""
    from brevitas.export import export_qonnx

    from xnorflow.build_flows.pipeline import build
    tmp = tmp_path_factory.mktemp("two_bit")
    with torch.no_grad():
        export_qonnx(probes.seeded(probes.two_bit_probe, 0), torch.zeros(1, 1, 8, 8), str(tmp / "user.onnx"))
    build(str(tmp / "user.onnx"), tmp / "build")
    return tmp / "build"


@pytest.mark.parametrize("folding", ["500", None])
def test_two_bit_flattened_head_at_bound(two_bit_dir, tmp_path, folding):
    """2-bit weights and activations, no pooling: the linear head takes its whole frame as one vector and reads
    no input during its other tiles, so its FIFO holds the next frame; bit-exact at the bound (cycles target
    and board-fitted folding)."""
    sim = build_target(copy_of(two_bit_dir, tmp_path / "b"), "sim", "Pynq-Z2", folding, frames=4)["sim"]
    assert sim["bit_exact"] and sim["ratio_to_bound"] <= MAX_RATIO


def test_tfc_at_finn_examples_folding(tmp_path):
    """FINN's TFC-W1A1 (random weights and BN) at finn-examples' folding: each MVAU of its FC chain takes the
    whole frame as its one input vector and reads nothing during its other tiles (hw/fifo_depths.rate_depths
    sizes the FIFO that holds the next frame meanwhile); bit-exact and at the bound."""
    pytest.importorskip("brevitas_examples.bnn_pynq.models")
    from finn_bnn_pynq import finn_config, hw_build
    build = hw_build("tfc_1w1a", tmp_path)
    config, _ = finn_config(build, "tfc_1w1a", tmp_path / "folding.json")
    sim = build_target(build, "sim", "Pynq-Z1", str(config), frames=4)["sim"]
    assert sim["bit_exact"] and sim["analytical_bound"] == 64 and sim["ratio_to_bound"] <= MAX_RATIO


def one_block() -> nn.Module:
    """Stem, one Bi-Real block (identity shortcut) and the head, 4 channels: a small stitched design."""
    return nn.Sequential(probes.Stem(1, 4), probes.ResidualBlock(4, 4), probes.Head(4, 10))


def test_deadlock_names_the_stalled_stream(tmp_path, monkeypatch):
    """A shortcut FIFO forced to two words deadlocks; one line names it and what the join waits for."""
    from xnorflow.hw import stitch
    monkeypatch.setattr(stitch, "branch_depths", lambda *args: {})
    build = hw_graph(tmp_path, "one-block", probes.seeded(one_block, 0))
    with pytest.raises(SimulationDeadlock, match=r"deadlocked: no handshake for \d+ cycles: the FIFO of stream "
                       r"DuplicateStreams_0_out1 \(depth 2\) is full while ElementwiseAdd_0 waits for stream "
                       r"Requantize_0_out0; deepen that FIFO") as err:
        build_target(build, "sim", "Pynq-Z2", FOLDING, frames=2)
    assert "\n" not in str(err.value)


def test_tiny_real2bin_bit_exact(tmp_path, tiny_graph):
    """tiny-real2bin with the gate: PReLU on raw popcounts, the gate's MVAUs and sigmoid thresholds,
    ChannelGateMul with the main branch buffered a whole frame (FIFOs by analysis, no deadlock), in RTL; the
    PReLU lookups as two-piece Requantize layers."""
    build = tiny_graph("tiny-real2bin", tmp_path / "r2b")
    assert 2 in requantizer_pieces(build)
    sim = build_target(build, "sim", "Pynq-Z2", FOLDING, frames=3)["sim"]
    assert sim["bit_exact"] and sim["ratio_to_bound"] <= MAX_RATIO


@pytest.mark.slow  # one more stitched Verilator compile (minutes on 2 cores)
def test_tiny_real2bin_ungated_bit_exact(tmp_path):
    """tiny-real2bin without the gate (BN-sign and PReLU lookups only) through rtl and sim."""
    from xnorflow.training.models.registry import build_model
    torch.manual_seed(1)
    model = build_model("tiny-real2bin", options={"gating": False})
    sim = build_target(hw_graph(tmp_path, "r2b", model, seed=1), "sim", "Pynq-Z2", FOLDING, frames=3)["sim"]
    assert sim["bit_exact"] and sim["ratio_to_bound"] <= MAX_RATIO


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under `root` with its inode and mtime (ns): equal trees mean nothing was written."""
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def test_opening_a_build_writes_nothing(bireal_dir, tmp_path, monkeypatch):
    """`xnorflow sim BUILD_DIR` and the driver (whole shell in Verilator) open the RTL the rtl target wrote
    (relative paths too), read-only. Pynq-Z2 and FOLDING as the driver tests: the compiled shell model is shared."""
    from xnorflow.hw import driver

    copy_of(bireal_dir, tmp_path / "b")
    monkeypatch.chdir(tmp_path)
    rtl = build_target(Path("b"), "rtl", "Pynq-Z2", FOLDING)["rtl"]
    before, beside = tree(tmp_path / "b"), sorted(tmp_path.iterdir())
    monkeypatch.setattr(accelerator, "generate_rtl", None)  # any regeneration would fail
    sim = simulate_build(Path("b"), frames=2)
    assert sim["bit_exact"] and sim["analytical_bound"] == rtl["analytical_bound"]
    with driver.open("b", backend="verilator") as acc:
        acc.execute(np.zeros((1, 1, 8, 8), np.float32))
    assert tree(tmp_path / "b") == before and sorted(tmp_path.iterdir()) == beside


def test_unchanged_rebuild_reuses_rtl(bireal_dir, tmp_path, monkeypatch):
    """Same hw.onnx, board and folding: rtl/ is kept (or copied from the previous build); a new folding regenerates."""
    build = copy_of(bireal_dir, tmp_path / "b")
    build_target(build, "rtl", "Pynq-Z2", FOLDING)
    before = tree(build / "rtl")
    generate = accelerator.generate_rtl
    monkeypatch.setattr(accelerator, "generate_rtl", None)
    build_target(build, "rtl", "Pynq-Z2", FOLDING)
    assert tree(build / "rtl") == before
    staged = copy_of(bireal_dir, tmp_path / "staged")  # what `xnorflow build` stages beside the previous build
    build_target(staged, "rtl", "Pynq-Z2", FOLDING, previous=build)
    assert open_build(staged).inputs == open_build(build).inputs
    assert snapshot(staged / "rtl") == snapshot(build / "rtl")
    monkeypatch.setattr(accelerator, "generate_rtl", generate)
    rtl = build_target(build, "rtl", "Pynq-Z2", "9000")["rtl"]
    assert rtl["folding"] == "9000" and open_build(build).inputs != open_build(staged).inputs
    assert open_build(build).report()["rtl"] == rtl


def snapshot(root: Path) -> dict[str, bytes]:
    """File name -> content of the files directly in `root`."""
    return {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}


def named_files(value, root: Path) -> list[Path]:
    """Every string in a report that names a file (a path with a file suffix), resolved against `root`."""
    if isinstance(value, dict):
        return [p for v in value.values() for p in named_files(v, root)]
    if isinstance(value, list):
        return [p for v in value for p in named_files(v, root)]
    words = value.split() if isinstance(value, str) else []
    return [root / w.strip("()") for w in words if "/" in w and Path(w.strip("()")).suffix]


def test_report_names_only_existing_files(bireal_dir, tmp_path):
    """report.json names no file that is gone, also after a folding JSON of the user's is deleted and the build re-simulated."""
    build = copy_of(bireal_dir, tmp_path / "b")
    cfg = tmp_path / "fold.json"
    build_target(build, "rtl", "Pynq-Z2", FOLDING)
    shutil.copy(build / "rtl" / "folding.json", cfg)
    build_target(build, "sim", "Pynq-Z2", str(cfg), frames=2)
    cfg.unlink()
    simulate_build(build, frames=2)
    rep = json.loads((build / "report.json").read_text())
    names = named_files({k: v for k, v in rep.items() if k != "source"}, build)
    assert build / "rtl" / "folding.json" in names and build / "rtl" / "xnorflow_top.sv" in names
    assert [p for p in names if not p.exists()] == []


def test_host_split_is_the_whole_graph(bireal_dir):
    """split_host's host pre-processing, HW part and post-processing, run in a row, equal hw.onnx bit for bit."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from finn.util.fpgadataflow import is_fpgadataflow_node
    from xnorflow.build_flows.hw_graph import split_host

    def run_graph(graph: ModelWrapper, x: np.ndarray) -> np.ndarray:
        """qonnx's execution of one of the parts on one input (an empty graph passes it through)."""
        if not graph.graph.node:
            return x
        return execute_onnx(graph, {graph.graph.input[0].name: x})[graph.graph.output[0].name]

    model = ModelWrapper(str(bireal_dir / "hw.onnx"))
    pre, part, post = split_host(model)
    assert pre.graph.node and post.graph.node and all(map(is_fpgadataflow_node, part.graph.node))
    assert not any(is_fpgadataflow_node(n) for n in (*pre.graph.node, *post.graph.node))
    assert len(pre.graph.node) + len(part.graph.node) + len(post.graph.node) == len(model.graph.node)
    for x in np.random.default_rng(0).uniform(-1, 1, (4, 1, 1, 8, 8)).astype(np.float32):
        whole = execute_onnx(model, {model.graph.input[0].name: x})[model.graph.output[0].name]
        assert np.array_equal(run_graph(post, run_graph(part, run_graph(pre, x))), whole)


def test_sim_without_rtl_refused(bireal_dir, tmp_path):
    """Simulating a build with no RTL says which target to run."""
    with pytest.raises(XnorflowError, match="--target rtl"):
        simulate_build(copy_of(bireal_dir, tmp_path / "b"))


def test_folding_json_divisibility(bireal_dir, tmp_path):
    """A FINN folding JSON with an illegal PE names the layer and the nearest legal value."""
    cfg = tmp_path / "fold.json"
    cfg.write_text(json.dumps({"MVAU_hls_1": {"PE": 5, "SIMD": 16}}))
    with pytest.raises(XnorflowError, match=r"MVAU_1.*PE=5.*MH=16.*PE=4"):
        build_target(copy_of(bireal_dir, tmp_path / "b"), "rtl", "Pynq-Z2", str(cfg))
    assert not (tmp_path / "b" / "rtl").exists()


def test_unknown_board(bireal_dir):
    """An unknown board is one line listing the known ones."""
    with pytest.raises(XnorflowError, match="unknown board 'Zedboard'.*Pynq-Z1.*KV260") as err:
        build_target(bireal_dir, "rtl", "Zedboard")
    assert "\n" not in str(err.value)
    assert board("pynq-z2").part.startswith("xc7z020")


def test_bitfile_stops_at_vivado(bireal_dir, tmp_path, monkeypatch):
    """No Vivado: the project (the generated shell and core, the flow script) is written without running Yosys,
    then one line says what to install; the script, evaluated with Vivado's commands as recording stubs, builds the whole overlay."""
    sys.path.insert(0, str(Path(__file__).parent))
    from overlay_checks import check_design, check_outputs
    from vivado_stub import VivadoStub

    monkeypatch.setattr(shutil, "which", lambda name, path=None: None)
    monkeypatch.delenv("XILINX_VIVADO", raising=False)
    build = copy_of(bireal_dir, tmp_path / "b")
    no_yosys = lambda st, b: pytest.fail("the bitfile target waited for Yosys")  # noqa: E731
    monkeypatch.setattr(accelerator, "synth_report", no_yosys)
    with pytest.raises(XnorflowError, match="Vivado is not installed.*install Vivado"):
        build_target(build, "bitfile", "Pynq-Z2", FOLDING)
    assert json.loads((build / "report.json").read_text())["bitfile"]["status"] == "vivado missing"
    assert not (build / "bitfile").exists()
    stub = VivadoStub(build / "vivado")
    stub.run(build / "vivado" / "build_bitfile.tcl")
    check_design(stub, board("Pynq-Z2"))
    check_outputs(build / "vivado")
    assert {p.name for p in stub.files} >= {"xnorflow_shell.sv", "xnorflow_top.sv", "axi_dma_rd.sv"}
    fake = tmp_path / "vivado"  # with a (fake) Vivado: the same build publishes its bitfile
    fake.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).parent / "vivado_stub.py"}" "$@"\n')
    fake.chmod(0o755)
    monkeypatch.setattr(shutil, "which", lambda name, path=None: str(fake) if name == "vivado" else None)
    out = build_target(build, "bitfile", "Pynq-Z2", FOLDING)
    assert out["bitfile"]["status"] == "published" and (build / "bitfile" / "xnorflow.hwh").is_file()
    assert json.loads((build / "report.json").read_text())["bitfile"]["utilization"]["lut"]["used"] > 0


def test_driver_runs_the_rtl_like_the_model(bireal_dir, tmp_path):
    """The driver's execute(images) gives the exported model's logits (host ends in numpy, HW part in the whole
    shell's RTL in Verilator)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from xnorflow.hw import driver

    build = copy_of(bireal_dir, tmp_path / "d")
    build_target(build, "rtl", "Pynq-Z2", FOLDING)
    images = torch.rand(5, 1, 8, 8).mul(2).sub(1).numpy()
    with driver.open(build, backend="verilator") as acc:
        logits = acc.execute(images)
    qonnx = ModelWrapper(str(build / "qonnx.onnx"))
    name_in, name_out = qonnx.graph.input[0].name, qonnx.graph.output[0].name
    expected = np.concatenate([execute_onnx(qonnx, {name_in: im[None]})[name_out] for im in images])
    assert np.array_equal(logits.argmax(1), expected.argmax(1))
    assert np.allclose(logits, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
