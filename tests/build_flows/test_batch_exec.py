"""A graph run on a batch at once equals it run frame by frame, Im2Col included."""
import numpy as np
import pytest
import qonnx.core.onnx_exec as oxe
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import qonnx_make_model

from xnorflow.build_flows.batch_exec import run_batched, takes_batches, with_batch
from xnorflow.errors import XnorflowError

pytestmark = pytest.mark.fast


def im2col_graph() -> ModelWrapper:
    """Im2Col (3x3, pad 1) over a 5x4x2 NHWC frame, then a MatMul: a lowered conv as streamlining leaves it."""
    im2col = helper.make_node("Im2Col", ["x"], ["cols"], domain="qonnx.custom_op.general", stride=[1, 1],
                              kernel_size=[3, 3], pad_amount=[1, 1, 1, 1], input_shape="(1, 5, 4, 2)")
    matmul = helper.make_node("MatMul", ["cols", "w"], ["y"])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 4, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5, 4, 3])
    graph = helper.make_graph([im2col, matmul], "g", [x], [y])
    model = ModelWrapper(qonnx_make_model(graph))
    model.set_initializer("w", np.arange(54, dtype=np.float32).reshape(18, 3) % 5 - 2)
    model.set_tensor_datatype("x", DataType["INT4"])
    return model.transform(InferShapes())


def test_batched_im2col_equals_frame_by_frame():
    model = im2col_graph()
    frames = np.random.default_rng(0).integers(-8, 8, (6, 5, 4, 2)).astype(np.float32)
    one_by_one = np.concatenate([oxe.execute_onnx(model, {"x": f[None]})["y"] for f in frames])
    assert takes_batches(model)
    assert np.array_equal(oxe.execute_onnx(with_batch(model, 6), {"x": frames})["y"], one_by_one)



def test_qonnx_im2col_alone_mixes_the_frames_of_a_batch():
    """Why FramewiseIm2Col exists: qonnx's Im2Col on a batch gives other columns than frame by frame."""
    model = im2col_graph()
    frames = np.random.default_rng(1).integers(-8, 8, (3, 5, 4, 2)).astype(np.float32)
    im2col = getCustomOp(model.graph.node[0])
    batch = {"x": frames, "cols": None}
    im2col.execute_node(batch, model.graph)
    singles = []
    for f in frames:
        one = {"x": f[None], "cols": None}
        im2col.execute_node(one, model.graph)
        singles.append(one["cols"])
    assert batch["cols"].shape == (3, 5, 4, 18) and not np.array_equal(batch["cols"], np.concatenate(singles))


def test_an_op_that_mixes_frames_is_caught():
    """A batched run whose frames do not match the same frames run alone stops in one line."""
    mix = helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=1)  # sums over the batch
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([mix], "mixes_frames", [x], [y])
    model = ModelWrapper(qonnx_make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    model.set_initializer("axes", np.array([0], np.int64))
    frames = np.arange(12, dtype=np.float32).reshape(3, 4)
    with pytest.raises(XnorflowError, match="frame 0 of a batch gives other outputs than alone in graph mixes_frames"):
        run_batched(model, frames)
    assert np.array_equal(run_batched(model, frames[:1]), frames[:1])
