"""Probe models through export -> streamline -> HW graph: every arrow bit-exact; bad inputs refused."""
import json

import pytest
from qonnx.core.modelwrapper import ModelWrapper

import probes
from xnorflow.build_flows.export import export
from xnorflow.build_flows.hw_graph import build_hw_graph
from xnorflow.build_flows.verify import random_frames, verify
from xnorflow.errors import XnorflowError

SHAPE = (1, 1, 12, 12)


def build(tmp_path, model):
    """Export and build one model; return (build dir, report)."""
    export(model, SHAPE, tmp_path / "m.onnx")
    return tmp_path / "build", build_hw_graph(tmp_path / "m.onnx", tmp_path / "build")


@pytest.mark.parametrize("builder,seed", [(probes.vgg_probe, 0), (probes.vgg_probe, 1), (probes.bireal_probe, 0),
                                          (probes.bireal_probe, 2), (probes.reactnet_probe, 0),
                                          (probes.reactnet_probe, 3)])
def test_bit_exact(tmp_path, builder, seed):
    model = probes.seeded(builder, seed)
    out, rep = build(tmp_path, model)
    arrows = verify(model, out, random_frames(SHAPE, 6, seed=seed))
    assert all(a.ok and a.max_abs_diff < 1e-5 for a in arrows), [str(a) for a in arrows]
    assert json.loads((out / "report.json").read_text())["layers"]
    assert (out / "dataflow_parent.onnx").exists()


def test_residual_hw_ops(tmp_path):
    _, rep = build(tmp_path, probes.seeded(probes.reactnet_probe, 0))
    ops = set(rep["hw_op_types"])
    assert {"DuplicateStreams", "ElementwiseAdd", "ChannelwiseLUT", "Pool", "StreamingConcat", "FMPadding",
            "GlobalAccPool"} <= ops
    hw = ModelWrapper(str(tmp_path / "build" / "hw.onnx"))
    adds = [n for n in hw.graph.node if n.op_type == "ElementwiseAdd"]
    assert all(hw.get_tensor_datatype(i).is_integer() for n in adds for i in n.input)


def test_zero_padded_binary_conv_refused(tmp_path):
    export(probes.seeded(probes.zero_pad_probe, 0), SHAPE, tmp_path / "m.onnx")
    with pytest.raises(XnorflowError, match="bipolar|-1"):
        build_hw_graph(tmp_path / "m.onnx", tmp_path / "build")
    assert not (tmp_path / "build").exists()


def test_float_layer_refused(tmp_path):
    model = probes.seeded(probes.vgg_probe, 0)
    model[1].conv = __import__("torch").nn.Conv2d(16, 16, 3, bias=False)
    export(model, SHAPE, tmp_path / "m.onnx")
    with pytest.raises(XnorflowError, match="float"):
        build_hw_graph(tmp_path / "m.onnx", tmp_path / "build")
