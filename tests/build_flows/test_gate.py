"""Real-to-Binary's gate in integer form: sigmoid quantizer thresholds, and the PReLU-then-gate block order."""
import numpy as np
import pytest
import torch
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import qonnx_make_model

from xnorflow.build_flows.gate import SigmoidQuantToThresholds, sigmoid_levels, sigmoid_thresholds
from xnorflow.build_flows.rounding import HalfToEvenFloatThresholds
from xnorflow.training.layers import QuantSpec
from xnorflow.training.models.real2bin import Real2BinBlock

pytestmark = pytest.mark.fast  # the everyday tier: `make test-fast`

SCALE, BITS = 2.0 ** -8, 8


def sigmoid_quant(n: int) -> ModelWrapper:
    """x [1, n] -> Sigmoid -> Quant(unsigned 8 bits, scale 2^-8)."""
    nodes = [helper.make_node("Sigmoid", ["x"], ["s"]),
             helper.make_node("Quant", ["s", "scale", "zp", "bits"], ["y"], domain="qonnx.custom_op.general",
                              signed=0, narrow=0, rounding_mode="ROUND")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])])
    model = ModelWrapper(qonnx_make_model(graph))
    for name, value in (("scale", SCALE), ("zp", 0.0), ("bits", float(BITS))):
        model.set_initializer(name, np.float32(value))
    return model.transform(InferShapes())


def test_sigmoid_quant_becomes_exact_thresholds():
    """After the rewrite and FINN's half-to-even pass, the graph gives Quant(sigmoid(x)) on random inputs and on
    both sides of every threshold."""
    t = sigmoid_thresholds(SCALE, BITS)[0]
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 4, 4000), t, np.nextafter(t, np.float32(-np.inf))]).astype(np.float32)
    model = sigmoid_quant(len(x))
    ref = execute_onnx(model, {"x": x[None]})["y"]
    model = model.transform(SigmoidQuantToThresholds()).transform(HalfToEvenFloatThresholds())
    assert [n.op_type for n in model.graph.node] == ["MultiThreshold", "Mul"]
    assert np.array_equal(execute_onnx(model, {"x": x[None]})["y"][0], sigmoid_levels(x, SCALE, BITS) * SCALE)
    # onnxruntime's sigmoid (the QONNX graph) differs from torch's in the last ulp: one level, at boundaries only
    assert np.abs(execute_onnx(model, {"x": x[None]})["y"] - ref).max() <= SCALE


def test_prelu_then_gate_is_r2b_eq3():
    """Real-valued block: prelu(conv * scale * G(A)) == prelu(conv * scale) * G(A), G >= 0 (PReLU homogeneous)."""
    torch.manual_seed(0)
    block = Real2BinBlock(8, 8, 1, QuantSpec(precision="float")).eval()
    block.prelu.weight.data = torch.randn(8)
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        y = block.conv(block.sign(block.bn(x))) * block.scale
        paper = block.quant_out(block.prelu(y * block.gate(x)) + block.shortcut(x))
        assert torch.allclose(block(x), paper, atol=1e-6)
