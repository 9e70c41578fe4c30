"""Registry models through `build_flows.pipeline` and the CLI: bit-exact arrows, clear refusals, no partial builds."""
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

import probes
from xnorflow.build_flows import pipeline
from xnorflow.build_flows.export import export
from xnorflow.build_flows.hw_graph import build_hw_graph
from xnorflow.build_flows.verify import random_frames, verify
from xnorflow.cli import main
from xnorflow.errors import XnorflowError
from xnorflow.training.layers import QuantSpec

SHAPE = (1, 1, 12, 12)
BUILDABLE = ("tiny-bireal", "tiny-reactnet", "tiny-hyperbnn", "tiny-real2bin")
UNGATED = {"gating": False}


def tiny(name: str, seed: int, trained: bool, options: dict | None = None) -> nn.Module:
    """A tiny registry model with random BN stats, optionally after one SGD step, as the stages see it."""
    model = pipeline.name_source(name, options, seed).model
    if trained:
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        gen = torch.Generator().manual_seed(seed)
        loss = nn.functional.cross_entropy(model(torch.randn(8, 1, 8, 8, generator=gen)), torch.arange(8))
        loss.backward()
        opt.step()
    probes.randomize_bn(model, torch.Generator().manual_seed(seed))
    return pipeline.inference_model(model, QuantSpec())[0]  # snapped again, as every checkpoint is


def exact(arrows) -> bool:
    """Every arrow holds with integer-exact logits."""
    return all(a.ok and a.max_abs_diff < 1e-5 for a in arrows)


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory) -> Callable[[str, int, bool], tuple[nn.Module, Path, dict]]:
    """Builds tiny(name, seed, trained) once per module: (model, build dir, report), shared by the tests that need it."""
    built = {}

    def get(name: str, seed: int, trained: bool) -> tuple[nn.Module, Path, dict]:
        if (name, seed, trained) not in built:
            model, tmp = tiny(name, seed, trained), tmp_path_factory.mktemp(name)
            export(model, (1, 1, 8, 8), tmp / "m.onnx")
            built[name, seed, trained] = model, tmp / "build", build_hw_graph(tmp / "m.onnx", tmp / "build")
        return built[name, seed, trained]
    return get


@pytest.mark.parametrize("name,seed,trained", [(n, s, s % 2 == 1) for n in BUILDABLE for s in (0, 1)]
                         + [pytest.param(n, s, t, marks=pytest.mark.slow)
                            for n in BUILDABLE for s in (2, 3) for t in (False, True)])
def test_tiny_bit_exact(tiny_build, name, seed, trained):
    model, build, rep = tiny_build(name, seed, trained)
    arrows = verify(model, build, random_frames((1, 1, 8, 8), 8, 2.0 ** -6, seed=seed))
    assert exact(arrows), [str(a) for a in arrows]
    assert rep["hw_layers"] > 0 and rep["weight_memory_bits"] > 0


@pytest.mark.parametrize("seed,trained", [(0, True), (1, False), pytest.param(2, True, marks=pytest.mark.slow)])
def test_ungated_real2bin_bit_exact(tmp_path, seed, trained):
    """R2B without the gate: BN-sign (negative BN scales) becomes a lookup, the scaled-conv PReLU a two-piece
    Requantize, bit-exact."""
    model = tiny("tiny-real2bin", seed, trained, UNGATED)
    export(model, (1, 1, 8, 8), tmp_path / "m.onnx")
    rep = build_hw_graph(tmp_path / "m.onnx", tmp_path / "build")
    arrows = verify(model, tmp_path / "build", random_frames((1, 1, 8, 8), 8, 2.0 ** -6, seed=seed))
    assert exact(arrows), [str(a) for a in arrows]
    assert "ChannelwiseLUT" in rep["hw_op_types"] and "ChannelGateMul" not in rep["hw_op_types"]


def test_gated_real2bin_hw_form(tiny_build):
    """The gate becomes GlobalAccPool -> thresholds -> MVAU -> MVAU (sigmoid thresholds) -> ChannelGateMul; the
    PReLU on the popcount a two-piece Requantize."""
    ops = tiny_build("tiny-real2bin", 0, False)[2]["hw_op_types"]
    assert ops.count("ChannelGateMul") == 4 and ops.count("GlobalAccPool") == 5
    assert {"Requantize", "MVAU", "Thresholding", "ElementwiseAdd"} <= set(ops)


def test_sigmoid_on_signed_grid_refused(tmp_path):
    """A sigmoid quantized on a signed grid is refused by name."""
    from brevitas.nn import QuantIdentity

    model = tiny("tiny-real2bin", 0, trained=False)
    model.blocks[0].gate.quant_gate = QuantIdentity(act_quant=probes.FixedPoint, return_quant_tensor=False)
    refused(tmp_path, model, "quantizes a sigmoid with a signed or shifted grid", (1, 1, 8, 8))


class OtherGrid(probes.FixedPoint):
    """A shortcut grid with 3 fractional bits instead of 4."""

    scaling_const = 2.0 ** (8 - 1 - 3)
    max_val = 2.0 ** (8 - 1 - 3)
    min_val = -(2.0 ** (8 - 1 - 3))


def refused(tmp_path, model: nn.Module, match: str, shape: tuple = SHAPE) -> None:
    """Export `model`, expect the build to fail with `match` and leave no build directory."""
    export(model, shape, tmp_path / "m.onnx")
    with pytest.raises(XnorflowError, match=match):
        build_hw_graph(tmp_path / "m.onnx", tmp_path / "build")
    assert not (tmp_path / "build").exists()


def test_mismatched_shortcut_grids_refused(tmp_path):
    from brevitas.nn import QuantIdentity

    model = probes.seeded(probes.bireal_probe, 0)
    model[1].body.out = QuantIdentity(act_quant=OtherGrid, return_quant_tensor=False)
    refused(tmp_path, model, "different fixed-point formats")


def test_unsupported_layer_refused(tmp_path):
    model = probes.seeded(probes.vgg_probe, 0)
    model.insert(1, nn.Tanh())
    refused(tmp_path, model, r"unsupported layer Tanh .*node \d+ of \d+")


@pytest.mark.parametrize("name", ["tiny-bireal", *[pytest.param(n, marks=pytest.mark.slow) for n in BUILDABLE[1:]]])
def test_cli_initial_weights_bit_exact(tmp_path, capsys, name):
    """Initial weights (BN mean 0, var 1: scale 1/sqrt(1 + eps), near-ties at the stem) build and verify exactly."""
    out = tmp_path / "build"
    assert main(["build", "--model", name, "--out", str(out)]) == 0
    assert (out / "report.json").is_file() and (out / "dataflow_partition").is_dir()
    rep = json.loads((out / "report.json").read_text())
    assert rep["requant"]["channels"] > 0 and 0 < rep["requant"]["max_rel_change"] < 1e-2
    assert rep["requant"]["unsafe"] == [] and rep["near_ties"] == 0
    assert main(["verify", str(out), "--frames", "16"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum("->" in line and "frames 16" in line and line.endswith("ok") for line in lines) == 3


def test_cli_bad_input_one_line(tmp_path, capsys):
    assert main(["build", "--model", str(tmp_path / "missing.onnx"), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.onnx does not exist" in err[0]
    assert not (tmp_path / "b").exists()


@pytest.mark.slow  # full-size models (bireal18-cifar alone took 114 CPU-seconds); their tiny variants build above
@pytest.mark.parametrize("name", ["bireal18-cifar", "reactnet-a-cifar"])
def test_cifar_models_build(tmp_path, name):
    rep = pipeline.build(name, tmp_path / "build")
    assert rep["hw_layers"] > 0


def test_wide_binary_conv_snapped_without_near_ties(tmp_path):
    """bireal18-cifar's 142 near ties at a tiny input: a 3x3x512 binary conv (fan-in 4608) at initial weights. FINN's
    thresholds near the top of its popcount (|t| ~ 2837) carry float32 noise of their own, so snapping keeps twice
    the noise (training/requant.SNAP_MARGIN; 51 near ties with one): none left, every arrow exact."""
    from xnorflow.training.models.bireal import BiRealBlock
    from xnorflow.training.models.staged import StagedNet

    spec = QuantSpec()
    torch.manual_seed(0)
    wide = StagedNet([(512, 1)], (512, 3, 1, False), 1, 10, spec, lambda i, o, s: BiRealBlock(i, o, s, spec))
    model = pipeline.inference_model(wide, spec)[0]
    export(model, (1, 1, 8, 8), tmp_path / "m.onnx")
    assert build_hw_graph(tmp_path / "m.onnx", tmp_path / "build")["near_ties"] == 0
    arrows = verify(model, tmp_path / "build", random_frames((1, 1, 8, 8), 8, 2.0 ** -6, seed=0))
    assert exact(arrows), [str(a) for a in arrows]


def test_near_ties_of_an_unsnapped_model_are_reported(tmp_path, capsys, bireal_on_boundary):
    """A BN putting popcount 40 of every channel 3e-6 of a grid step off a boundary: counted and warned about in
    the report; the same model snapped has none."""
    model = bireal_on_boundary(3e-6)
    export(model, (1, 1, 8, 8), tmp_path / "raw.onnx")
    assert build_hw_graph(tmp_path / "raw.onnx", tmp_path / "raw")["near_ties"] > 0
    assert "lie within float32 noise of an integer input" in capsys.readouterr().out
    export(pipeline.inference_model(model, QuantSpec())[0], (1, 1, 8, 8), tmp_path / "snapped.onnx")
    assert build_hw_graph(tmp_path / "snapped.onnx", tmp_path / "snapped")["near_ties"] == 0


def test_snapped_boundary_bn_requantizes_exactly(tmp_path, bireal_on_boundary):
    """The adversarial BN (popcount 40 on a .5 boundary), snapped: its binary conv's 255 thresholds become an integer
    requantiser (dyadic m / 2^s) in the HW graph, and every arrow stays exact, the HW graph's included."""
    model = pipeline.inference_model(bireal_on_boundary(0.0), QuantSpec())[0]
    export(model, (1, 1, 8, 8), tmp_path / "snapped.onnx")
    rep = build_hw_graph(tmp_path / "snapped.onnx", tmp_path / "build")
    assert rep["near_ties"] == 0 and rep["hw_op_types"].count("Requantize") >= 2
    arrows = verify(model, tmp_path / "build", random_frames((1, 1, 8, 8), 16))
    assert arrows[-1].name.endswith("hw") and exact(arrows)
