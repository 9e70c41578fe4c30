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
from onnx import NodeProto
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from xnorflow.training.requant import NOISE

TIE_ULPS = 8  # float noise left by absorbing non-power-of-two scales (the 1/N of a global pool)
NEAR_TIES = "xnorflow_near_ties"  # model metadata: how many thresholds `near_ties` found


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


def tie_rows(t: np.ndarray) -> np.ndarray:
    """Rows (channels) whose thresholds all lie within float noise of integers: genuine ties."""
    near = np.abs(t - np.round(t.astype(np.float64))) <= TIE_ULPS * np.spacing(np.abs(t).astype(np.float32))
    return near.all(axis=-1, keepdims=True)


def input_range(model: ModelWrapper, node: NodeProto) -> tuple[float, float]:
    """What a MultiThreshold's integer input can reach: 0..K of a popcount, a MatMul's bound from its integer
    weights and input type, else its datatype's range."""
    prod = model.find_producer(node.input[0])
    if prod is not None and prod.op_type == "XnorPopcountMatMul":
        return 0.0, float(model.get_tensor_shape(prod.input[1])[0])
    weights = model.get_initializer(prod.input[1]) if prod is not None and prod.op_type == "MatMul" else None
    if weights is not None:
        x = model.get_tensor_datatype(prod.input[0])
        top = float(np.abs(weights).sum(axis=0).max()) * max(abs(x.min()), abs(x.max()))
        return -top, top
    dtype = model.get_tensor_datatype(node.input[0])
    return float(dtype.min()), float(dtype.max())


def affine_rows(t: np.ndarray) -> np.ndarray:
    """Rows whose thresholds are evenly spaced (an affine map onto a grid, or a sign), as opposed to thresholds
    found on a nonlinear function's own float32 evaluation (R2B's sigmoid gate, build_flows/gate.py)."""
    if t.shape[-1] < 3:
        return np.ones(t.shape[:-1] + (1,), bool)
    step = np.diff(t.astype(np.float64), axis=-1)
    mid = np.median(step, axis=-1, keepdims=True)
    return (np.abs(step - mid) <= 1e-3 * np.abs(mid) + 1e-3).all(axis=-1, keepdims=True)


def near_ties(model: ModelWrapper) -> int:
    """Reachable thresholds of affine rows on integer inputs within float32 noise of an integer (outside genuine
    tie rows): an input that hits one may round one way in Brevitas/QONNX and the other in FINN. Snapped
    registry models have none (training/requant.py); an external QONNX may."""
    count = 0
    for node in model.graph.node:
        if node.op_type != "MultiThreshold" or not model.get_tensor_datatype(node.input[0]).is_integer():
            continue
        t = model.get_initializer(node.input[1])
        lo, hi = input_range(model, node)
        off = np.abs(t - np.round(t.astype(np.float64)))
        near = (off > 0) & (off <= NOISE * np.maximum(np.abs(t), 1.0)) & (t >= lo) & (t <= hi)
        count += int((near & ~tie_rows(t) & affine_rows(t)).sum())
    return count


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
            tie = np.broadcast_to(tie_rows(t), t.shape)
            even = np.broadcast_to(lower % 2 == 0, t.shape)
            model.set_initializer(node.input[1], np.where(tie, nearest + even, np.ceil(t)).astype(np.float32))
        return model, False
