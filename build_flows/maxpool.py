"""Per-channel affine steps in front of a max pool move behind it, into the next thresholds.

max(a x + b) = a max(x) + b for every channel with a >= 0, so a BatchNorm (or XNOR's 2P - K correction)
between a conv and its max pool need not leave the pool on floats. FINN's MoveMulPastMaxPool takes a Mul
only, in front of an NCHW MaxPool only, and MoveScalarLinearPastInvariants a scalar only: the Add of a
BatchNorm and the channels-last MaxPoolNHWC (after MakeMaxPoolNHWC) stay where they are; behind the pool,
channels-last constants are made 1D so that FINN absorbs them into the thresholds. Negative scales
never reach a pool here: FINN factors their sign into the conv weights first (FactorOutMulSignMagnitude,
Absorb1BitMulIntoMatMul), and prepare.py refuses a negative scale behind a pool.
"""
import numpy as np
import qonnx.core.data_layout as DataLayout
from onnx import NodeProto
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.util.basic import get_by_name

POOLS = {"MaxPool": 1, "MaxPoolNHWC": -1}  # op -> channel axis


def per_channel(model: ModelWrapper, node: NodeProto, pool: NodeProto) -> bool:
    """True when `node`'s constant is one value, or one per channel of the pool's layout."""
    const = model.get_initializer(node.input[1])
    shape = model.get_tensor_shape(pool.input[0])
    if const is None or const.size == 1:
        return const is not None
    axis = POOLS[pool.op_type] % len(shape)
    return const.ndim == len(shape) and all(d == 1 for i, d in enumerate(const.shape) if i != axis) \
        and const.shape[axis] == shape[axis]


def movable(model: ModelWrapper, node: NodeProto) -> NodeProto | None:
    """The pool a constant Add, or a non-negative constant Mul, may move behind; else None."""
    if node.op_type not in ("Add", "Mul") or model.is_fork_node(node) or model.is_join_node(node):
        return None
    pool = model.find_consumer(node.output[0])
    if pool is None or pool.op_type not in POOLS or not per_channel(model, node, pool):
        return None
    kernel = get_by_name(pool.attribute, "kernel_shape")
    if kernel is None or len(kernel.ints) != 2:
        return None
    negative = node.op_type == "Mul" and bool(np.any(model.get_initializer(node.input[1]) < 0))
    return None if negative else pool


class MoveLinearPastMaxPool(Transformation):
    """x -> Add/Mul(c) -> MaxPool[NHWC] -> y  ==>  x -> MaxPool[NHWC] -> Add/Mul(c) -> y (c scalar or per channel)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        changed = False
        for node in list(model.graph.node):
            pool = movable(model, node)
            if pool is not None:
                self.swap(model, node, pool)
                changed = True
        return model, changed

    def swap(self, model: ModelWrapper, node: NodeProto, pool: NodeProto) -> None:
        """Rewire x -> node -> mid -> pool -> y as x -> pool -> mid -> node -> y (mid takes the pooled shape)."""
        src, mid, dst = node.input[0], node.output[0], pool.output[0]
        pool.input[0], pool.output[0] = src, mid
        node.input[0], node.output[0] = mid, dst
        model.set_tensor_shape(mid, model.get_tensor_shape(dst))
        nodes = list(model.graph.node)
        model.graph.node.remove(node)
        model.graph.node.insert(nodes.index(pool), node)


class ChannelsLastConstantsTo1D(Transformation):
    """A Mul/Add constant of shape (1, 1, 1, C) on an NHWC tensor becomes shape (C,) (it broadcasts the same).

    FINN moves a pool's per-channel scale behind the NHWC Transposes as such a 4D constant, and its absorption
    into thresholds takes a 4D constant's channel axis from its layout, which InferDataLayouts calls NCHW."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        changed = False
        for node in model.graph.node:
            const = model.get_initializer(node.input[1]) if node.op_type in ("Add", "Mul") else None
            if const is not None and const.ndim == 4 and const.shape[:3] == (1, 1, 1) and const.size > 1 \
                    and model.get_tensor_layout(node.input[0]) == DataLayout.NHWC:
                model.set_initializer(node.input[1], const.reshape(-1))
                changed = True
        return model, changed
