"""Round-half-to-even MultiThresholds: FINN lacks them.

Brevitas and QONNX `Quant` round half to even (torch.round / np.round); the MultiThreshold that
ConvertQONNXtoFINN makes (`x >= (m + 1/2) s`) rounds half up. They differ whenever an input lands
exactly on a tie, which on fixed-point grids is common (a 2x2 average pool of integers hits .5 often).
Half to even means: the tie between levels m and m+1 goes down when m is even, i.e. that threshold
is strict (`x > t`). On a float input that is the next float above t; on an integer input it is t + 1.
Genuine ties only occur where a whole row of thresholds lies on integers (pool sums, grid-to-grid
requantisation: (m + 1/2) N 2^k is an integer for every m or for none); a BatchNorm row that merely
comes within float noise of an integer is not a tie and is rounded up like every other threshold.
"""
import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

TIE_ULPS = 8  # float noise left by absorbing non-power-of-two scales (the 1/N of a global pool)


def rounding_thresholds(model: ModelWrapper):
    """Yield (node, thresholds, lower level m per threshold) of every multi-bit MultiThreshold (not signs)."""
    for node in model.graph.node:
        if node.op_type != "MultiThreshold":
            continue
        inst = getCustomOp(node)
        if DataType[inst.get_nodeattr("out_dtype")].bitwidth() == 1 or inst.get_nodeattr("out_scale") != 1.0:
            continue
        thresholds = model.get_initializer(node.input[1])
        lower = np.arange(thresholds.shape[-1]) + inst.get_nodeattr("out_bias")
        yield node, thresholds, lower


class HalfToEvenFloatThresholds(Transformation):
    """Right after ConvertQONNXtoFINN: make ties-to-even thresholds strict (next float up)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node, t, lower in rounding_thresholds(model):
            even = np.broadcast_to(lower % 2 == 0, t.shape)
            model.set_initializer(node.input[1], np.where(even, np.nextafter(t, np.float32(np.inf)), t))
        return model, False


class HalfToEvenIntegerThresholds(Transformation):
    """On integer inputs: thresholds become integers, ties (t within float noise of an integer) by parity."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node, t, lower in rounding_thresholds(model):
            if not model.get_tensor_datatype(node.input[0]).is_integer() or np.all(t == np.round(t)):
                continue  # float input, or already integer (done before; the float pass left a nudge on ties)
            nearest = np.round(t.astype(np.float64))
            tie = np.abs(t - nearest) <= TIE_ULPS * np.spacing(np.abs(t).astype(np.float32))
            tie &= tie.all(axis=-1, keepdims=True)
            even = np.broadcast_to(lower % 2 == 0, t.shape)
            model.set_initializer(node.input[1], np.where(tie, nearest + even, np.ceil(t)).astype(np.float32))
        return model, False
