"""Probe models through export -> streamline -> HW graph: every arrow bit-exact; bad inputs refused."""
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from finn.transformation.streamline.absorb import AbsorbScalarBiasIntoMultiThreshold
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

import probes
from xnorflow.build_flows import fast_qonnx
from xnorflow.build_flows.batched import AbsorbScalarBiasesIntoMultiThresholds
from xnorflow.build_flows.export import export
from xnorflow.build_flows.hw_graph import build_hw_graph
from xnorflow.build_flows.streamline import RemoveExactIdentityOps
from xnorflow.build_flows.verify import random_frames, run_graph, verify
from xnorflow.errors import XnorflowError
from xnorflow.hw.accelerator import build_target

SHAPE = (1, 1, 12, 12)
RESIDUAL_OPS = {"DuplicateStreams", "ElementwiseAdd", "Requantize", "Pool", "StreamingConcat", "FMPadding",
                "GlobalAccPool"}


def build(tmp_path, model):
    """Export and build one model; return (build dir, report)."""
    export(model, SHAPE, tmp_path / "m.onnx")
    return tmp_path / "build", build_hw_graph(tmp_path / "m.onnx", tmp_path / "build")


@pytest.mark.parametrize("builder,seed,kw", [
    (probes.vgg_probe, 0, {}), (probes.bireal_probe, 0, {}), (probes.reactnet_probe, 0, {}),
    *[pytest.param(b, s, kw, marks=pytest.mark.slow) for b, s, kw in [
        (probes.vgg_probe, 1, {}), (probes.bireal_probe, 2, {}), (probes.reactnet_probe, 3, {}),
        (probes.bireal_probe, 0, {"conv_shortcut": True})]]])
def test_bit_exact(tmp_path, builder, seed, kw):
    model = probes.seeded(builder, seed, **kw)
    out, rep = build(tmp_path, model)
    arrows = verify(model, out, random_frames(SHAPE, 6, seed=seed))
    assert all(a.ok and a.max_abs_diff < 1e-5 for a in arrows), [str(a) for a in arrows]
    assert json.loads((out / "report.json").read_text())["layers"]
    parent = ModelWrapper(str(out / "dataflow_parent.onnx"))  # its partition points into the final build dir
    partitions = [getCustomOp(n).get_nodeattr("model") for n in parent.get_nodes_by_op_type("StreamingDataflowPartition")]
    assert partitions and all(Path(p).is_file() and Path(p).is_relative_to(out.resolve()) for p in partitions)
    frames = random_frames(SHAPE, 2, seed=seed)
    assert np.array_equal(run_graph(out / "dataflow_parent.onnx", frames), run_graph(out / "hw.onnx", frames))
    if builder is probes.reactnet_probe:  # residual joins are integer HW layers
        assert RESIDUAL_OPS <= set(rep["hw_op_types"])
        hw = ModelWrapper(str(out / "hw.onnx"))
        adds = [n for n in hw.graph.node if n.op_type == "ElementwiseAdd"]
        assert all(hw.get_tensor_datatype(i).is_integer() for n in adds for i in n.input)


def test_pooled_stem_sim_bit_exact(tmp_path):
    """Bi-Real's ImageNet stem: shortcut grid -> MaxPool2d(3, 2, padding=1), whose codes are the first block's
    shortcut; padded with the grid's minimum (a MinPadding), every arrow exact and the RTL bit-exact."""
    model = probes.seeded(probes.bireal_probe, 0, stem_pool=True)
    out, rep = build(tmp_path, model)
    arrows = verify(model, out, random_frames(SHAPE, 6, seed=0))
    assert all(a.ok and a.max_abs_diff < 1e-5 for a in arrows), [str(a) for a in arrows]
    hw = ModelWrapper(str(out / "hw.onnx"))
    assert [type(getCustomOp(n)).__name__ for n in hw.get_nodes_by_op_type("FMPadding")].count("MinPadding") == 1
    assert build_target(out, "sim", "Pynq-Z2", "6000", frames=3)["sim"]["bit_exact"]


def test_fast_paths_give_identical_graphs(tmp_path, monkeypatch):
    """qonnx's primitives and FINN's one-at-a-time bias absorption give the very graphs the fast versions give."""
    export(probes.seeded(probes.reactnet_probe, 1), SHAPE, tmp_path / "m.onnx")
    build_hw_graph(tmp_path / "m.onnx", tmp_path / "fast")
    monkeypatch.setattr(fast_qonnx, "PATCHES", ())
    build_hw_graph(tmp_path / "m.onnx", tmp_path / "plain")
    for stage in ("qonnx", "finn", "streamlined", "hw"):
        assert onnx.load(tmp_path / "fast" / f"{stage}.onnx") == onnx.load(tmp_path / "plain" / f"{stage}.onnx"), stage
    finn = ModelWrapper(str(tmp_path / "plain" / "finn.onnx"))
    ours = finn.transform(AbsorbScalarBiasesIntoMultiThresholds())
    assert ours.model == finn.transform(AbsorbScalarBiasIntoMultiThreshold()).model
    assert sum(n.op_type == "Add" for n in ours.graph.node) < sum(n.op_type == "Add" for n in finn.graph.node)


def test_near_identity_scale_kept():
    """A BatchNorm with var 1 scales by 1/sqrt(1 + eps) = 0.999995: not an identity (the lost-eps bug)."""
    consts = {"bn": np.float32(1 / np.sqrt(1 + 1e-5)), "one": np.float32(1.0), "tiny": np.float32(1e-6)}
    nodes = [helper.make_node("Mul", ["x", "bn"], ["a"]), helper.make_node("Mul", ["a", "one"], ["b"]),
             helper.make_node("Add", ["b", "tiny"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
                              [helper.make_tensor(k, TensorProto.FLOAT, [], [float(v)]) for k, v in consts.items()])
    model = ModelWrapper(qonnx_make_model(graph)).transform(RemoveExactIdentityOps())
    assert [(n.op_type, n.input[1]) for n in model.graph.node] == [("Mul", "bn"), ("Add", "tiny")]


def test_tiny_rsign_shift_kept(tmp_path):
    """An RSign shift of 1e-6 (within qonnx's 1e-5 identity tolerance) still decides the sign of exact zeros."""
    model = probes.seeded(probes.reactnet_probe, 0)
    for m in model.modules():
        if isinstance(m, probes.BinaryConv) and m.rsign is not None:
            m.rsign.data = torch.full_like(m.rsign, 1e-6)
    out, _ = build(tmp_path, model)
    arrows = verify(model, out, random_frames(SHAPE, 6, seed=0))
    assert all(a.ok and a.max_abs_diff < 1e-5 for a in arrows), [str(a) for a in arrows]


def test_zero_padded_binary_conv_refused(tmp_path):
    export(probes.seeded(probes.zero_pad_probe, 0), SHAPE, tmp_path / "m.onnx")
    with pytest.raises(XnorflowError, match="bipolar|-1"):
        build_hw_graph(tmp_path / "m.onnx", tmp_path / "build")
    assert not (tmp_path / "build").exists()


def test_float_layer_refused(tmp_path):
    model = probes.seeded(probes.vgg_probe, 0)
    model[1].conv = torch.nn.Conv2d(16, 16, 3, bias=False)
    export(model, SHAPE, tmp_path / "m.onnx")
    with pytest.raises(XnorflowError, match="float"):
        build_hw_graph(tmp_path / "m.onnx", tmp_path / "build")
