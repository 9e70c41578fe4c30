"""A graph of standard and qonnx ops executed on a whole batch at once, with qonnx's python execution.

qonnx runs one onnxruntime session per node, so N frames at once cost about what one frame costs, where N frames
one by one cost N times that. The batched copy of a graph has the batch in every activation's shape (qonnx's
ChangeBatchSize drops the shapes instead, and the shape inference of Im2Col and MaxPoolNHWC cannot restore them),
and runs each Im2Col as FramewiseIm2Col, an op of this module's domain: qonnx's Im2Col reshapes its columns as if
the batch were 1, so FramewiseIm2Col runs it on each frame. FINN's HW ops keep fixed shapes: a graph with them
runs frame by frame. Since an op that mixes the frames of a batch raises no error (Im2Col did not), every
batched run is checked against its first and last frames run alone. Float ops may round differently in a batch
(onnxruntime picks its MatMul kernel by the number of rows): verify compares float stages with a tolerance.
"""
from __future__ import annotations

import copy

import numpy as np
import qonnx.core.onnx_exec as oxe
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.im2col import Im2Col

from xnorflow.errors import XnorflowError

DOMAIN = __name__
# Relative to the largest output: onnxruntime sums a float MatMul of 3 rows in another order than of 1 (a last-bit
# difference); an op that mixes frames is off by whole values.
MIXING_TOL = 1e-5


class FramewiseIm2Col(Im2Col):
    """qonnx's Im2Col on a batch: qonnx's execution on each frame."""

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
    """A copy of the graph for batches of `n` frames: the leading dim of every activation's shape and of every
    constant Reshape target set to `n` (what qonnx's ChangeBatchSize does, but keeping the shapes: the shape
    inference of qonnx ops such as MaxPoolNHWC needs its input's), each Im2Col as FramewiseIm2Col."""
    model = ModelWrapper(copy.deepcopy(model.model))
    graph, frames_of = model.graph, activations(model)
    for info in (*graph.input, *graph.output, *graph.value_info):
        if info.name in frames_of:
            info.type.tensor_type.shape.dim[0].dim_value = n
    for node in model.get_nodes_by_op_type("Reshape"):
        target = model.get_initializer(node.input[1])
        if target is not None:
            model.set_initializer(node.input[1], np.concatenate([[n], target[1:]]).astype(target.dtype))
    for node in model.get_nodes_by_op_type("Im2Col"):
        node.op_type, node.domain = "FramewiseIm2Col", DOMAIN
    return model


def activations(model: ModelWrapper) -> set[str]:
    """Names of the tensors computed from the graph input (the others, quantized weights, have no batch axis)."""
    found = {model.graph.input[0].name}
    for node in model.graph.node:  # qonnx graphs are kept topologically sorted
        if found.intersection(node.input):
            found.update(node.output)
    return found


def run_batched(model: ModelWrapper, frames: np.ndarray) -> np.ndarray:
    """The graph's output for all `frames` from one batched execution, checked against its first and last frames
    run alone (up to float summation order); one line where they differ."""
    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    outs = oxe.execute_onnx(with_batch(model, len(frames)), {name_in: frames})[name_out]
    for i in sorted({0, len(frames) - 1}):
        alone = oxe.execute_onnx(model, {name_in: frames[i:i + 1]})[name_out]
        if np.abs(alone - outs[i:i + 1]).max() > MIXING_TOL * max(1.0, float(np.abs(alone).max())):
            raise XnorflowError(f"frame {i} of a batch gives other outputs than alone in graph {model.graph.name}",
                                "an op of the graph mixes the frames of a batch: report it with the graph")
    return outs
