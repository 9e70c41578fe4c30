"""prepare's graph rewrites on hand-written QONNX graphs."""
import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.basic import qonnx_make_model

from xnorflow.build_flows.prepare import MergeRepeatedActivationOps

pytestmark = pytest.mark.fast  # the everyday tier: `make test-fast`


def _signed_twice() -> ModelWrapper:
    """x -> BipolarQuant (twice, as TorchScript exports a call per consumer) -> two Muls by equal weights w0, w1."""
    nodes = [helper.make_node("BipolarQuant", ["x", f"s{k}"], [f"b{k}"], domain="qonnx.custom_op.general")
             for k in (0, 1)]
    nodes += [helper.make_node("Mul", [f"b{k}", f"w{k}"], [f"y{k}"]) for k in (0, 1)]
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in ("x", "y0", "y1")]
    model = ModelWrapper(qonnx_make_model(helper.make_graph(nodes, "g", io[:1], io[1:])))
    for k in (0, 1):
        model.set_initializer(f"s{k}", np.array([1.0], np.float32))
        model.set_initializer(f"w{k}", np.full((1, 4), 0.5, np.float32))
    return model


def test_a_tensor_quantized_twice_is_quantized_once():
    """The second BipolarQuant (an equal scale in another initializer) goes and its Mul reads the first; the two
    Muls are graph outputs and both stay."""
    model = _signed_twice().transform(MergeRepeatedActivationOps())
    quants = [n for n in model.graph.node if n.op_type == "BipolarQuant"]
    muls = [n for n in model.graph.node if n.op_type == "Mul"]
    assert len(quants) == 1 and [m.input[0] for m in muls] == [quants[0].output[0]] * 2


def test_different_parameters_are_not_merged():
    model = _signed_twice()
    model.set_initializer("s1", np.array([2.0], np.float32))
    model = model.transform(MergeRepeatedActivationOps())
    assert sum(n.op_type == "BipolarQuant" for n in model.graph.node) == 2
