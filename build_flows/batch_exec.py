"""A graph of standard and qonnx ops executed on a whole batch at once, with qonnx's python execution.

qonnx runs one onnxruntime session per node, so N frames at once cost about what one frame costs, where N frames
one by one cost N times that. qonnx itself assumes one frame in two places that this module takes over:
ChangeBatchSize leaves Im2Col's `input_shape` attribute (its shape inference) at batch 1, and Im2Col's execution
reshapes its columns as if the batch were 1. So the batched copy of a graph runs each Im2Col as FramewiseIm2Col,
an op of this module's domain: qonnx's Im2Col on each frame. FINN's HW ops keep fixed shapes: a graph with
them runs frame by frame.
"""
from __future__ import annotations

import ast

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.im2col import Im2Col
from qonnx.transformation.change_batchsize import ChangeBatchSize
from qonnx.transformation.infer_shapes import InferShapes

DOMAIN = __name__


class FramewiseIm2Col(Im2Col):
    """qonnx's Im2Col on a batch: the batch of `input_shape` in its inferred shape, qonnx's execution per frame."""

    def make_shape_compatible_op(self, model: ModelWrapper):
        op = super().make_shape_compatible_op(model)
        shape = next(a for a in op.attribute if a.name == "shape")
        shape.ints[0] = ast.literal_eval(self.get_nodeattr("input_shape"))[0]
        return op

    def execute_node(self, context: dict, graph) -> None:
        name_in, name_out = self.onnx_node.input[0], self.onnx_node.output[0]
        outs = []
        for frame in context[name_in]:
            one = {name_in: frame[None], name_out: None}
            super().execute_node(one, graph)
            outs.append(one[name_out])
        context[name_out] = np.concatenate(outs)


custom_op = {"FramewiseIm2Col": FramewiseIm2Col}


def takes_batches(model: ModelWrapper) -> bool:
    """False where the graph has FINN HW ops (fixed shapes of one frame)."""
    return not any(n.domain.startswith("finn.custom_op.fpgadataflow") for n in model.graph.node)


def with_batch(model: ModelWrapper, n: int) -> ModelWrapper:
    """A copy of the graph for batches of `n` frames: qonnx's ChangeBatchSize, each Im2Col as FramewiseIm2Col."""
    model = model.transform(ChangeBatchSize(n))
    for node in model.get_nodes_by_op_type("Im2Col"):
        node.op_type, node.domain = "FramewiseIm2Col", DOMAIN
        attr = next(a for a in node.attribute if a.name == "input_shape")
        attr.s = str((n,) + tuple(ast.literal_eval(attr.s.decode())[1:])).encode()
    return model.transform(InferShapes())
