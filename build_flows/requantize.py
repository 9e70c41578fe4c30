"""Many thresholds -> one integer requantiser: level(k) = clamp((m k + c) >> s, 0, N) per channel.

A layer that requantises onto an 8-bit grid (BN after a binary or 8-bit conv onto the shortcut grid, a
pool's 1/N, R2B's scale) stores N = 255 thresholds per channel, though the level it counts is an affine
function of the input rounded down. Where per channel integers (m, c) and one shift s per layer give
#(t_j <= k) == clamp(floor((m k + c) / 2^s), 0, N) on every reachable integer k, the thresholds become a
`Requantize` node (hw/ops/requantize.py): two numbers per channel instead of N. For fixed s and m the
condition is an interval for c (the level is monotonic in k, so only the integers either side of each
threshold matter): c >= j 2^s - m t_j for every reachable threshold t_j, c <= j 2^s - 1 - m (t_j - 1) for
every threshold above the range's bottom. m comes from the middle of the interval of slopes those
constraints allow, s grows until every channel has a c. Rows that no (m, c, s) fits (half-to-even ties,
a nonlinear function's thresholds, an external model's float BN) keep their thresholds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from xnorflow.build_flows.chain_lut import uint_for
from xnorflow.hw.ops import DOMAIN
from xnorflow.hw.ops.mvau import acc_range, is_xnor
from xnorflow.hw.ops.thresholds import clip_thresholds
from xnorflow.hw.streams import signed_type

MIN_THRESHOLDS = 7      # fewer thresholds per channel stay thresholds (a sign keeps its one)
MAX_SHIFT = 24          # the largest shared shift tried
CHUNK = 16              # channels per block of the pairwise slope bounds (C x N x N values at once)


@dataclass(frozen=True)
class Requantizer:
    """Per channel multiplier m and offset c, one shift s, and the input clamp [lo, hi] outside which
    the level no longer changes."""

    m: np.ndarray
    c: np.ndarray
    shift: int
    levels: int
    lo: int
    hi: int

    def level(self, k: np.ndarray) -> np.ndarray:
        """clamp((m clip(k) + c) >> s, 0, N) of integer inputs k (..., C)."""
        x = np.clip(np.asarray(k, dtype=np.int64), self.lo, self.hi)
        return np.clip((self.m * x + self.c) >> self.shift, 0, self.levels)


def slope_middle(thr: np.ndarray, lo: int | np.ndarray, hi: int | np.ndarray) -> np.ndarray:
    """Per channel, the middle of the open interval of real slopes a with some b such that
    floor(a k + b) counts the thresholds (sorted, clipped to [lo, hi + 1]) on [lo, hi] (one range, or one per
    channel); NaN where empty."""
    n = thr.shape[1]
    j = np.arange(1, n + 1, dtype=np.float64)
    mids = np.empty(thr.shape[0])
    lows, highs = np.broadcast_to(lo, thr.shape[:1]), np.broadcast_to(hi, thr.shape[:1])
    for start in range(0, thr.shape[0], CHUNK):
        t = thr[start:start + CHUNK].astype(np.float64)
        lo, hi = lows[start:start + CHUNK, None, None], highs[start:start + CHUNK, None, None]
        # a t_a + b >= j_a (t_a reachable) and a (t_b - 1) + b < j_b (t_b above lo): a (t_b - 1 - t_a) < j_b - j_a
        d = t[:, None, :] - 1 - t[:, :, None]
        gap = (j[None, :] - j[:, None])[None].repeat(t.shape[0], 0)
        valid = (t[:, :, None] <= hi) & (t[:, None, :] > lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = gap / d
        upper = np.where(valid & (d > 0), ratio, np.inf).min(axis=(1, 2))
        lower = np.maximum(np.where(valid & (d < 0), ratio, -np.inf).max(axis=(1, 2)), 0.0)
        impossible = (valid & (d == 0) & (gap <= 0)).any(axis=(1, 2)) | (lower >= upper)
        mid = np.where(np.isinf(upper), lower + 1.0, (lower + upper) / 2)
        mids[start:start + CHUNK] = np.where(impossible, np.nan, mid)
    return mids


def offsets(thr: np.ndarray, m: np.ndarray, shift: int, lo: int | np.ndarray,
            hi: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel, the integer interval [low, high] of offsets c that count every threshold right at shift s
    on [lo, hi] (one range, or one per channel)."""
    j = np.arange(1, thr.shape[1] + 1, dtype=np.int64) << shift
    lo, hi = np.reshape(lo, (-1, 1)), np.reshape(hi, (-1, 1))
    low = np.where(thr <= hi, j - m[:, None] * thr, np.iinfo(np.int64).min).max(axis=1)
    high = np.where(thr > lo, j - 1 - m[:, None] * (thr - 1), np.iinfo(np.int64).max).min(axis=1)
    return low, high


def find_requantizer(thresholds: np.ndarray, lo: int, hi: int) -> Requantizer | None:
    """(m, c, s) with clamp((m k + c) >> s, 0, N) == #(thresholds <= k) for every integer k in [lo, hi] and
    every channel (rows of `thresholds`), the smallest such s; None if some row has none up to MAX_SHIFT."""
    thr = np.sort(clip_thresholds(thresholds, lo, hi), axis=1)
    mid = slope_middle(thr, lo, hi)
    if np.isnan(mid).any():
        return None
    k_lo, k_hi = max(lo, int(thr.min()) - 1), min(hi, max(int(thr.max()), lo))
    for shift in range(MAX_SHIFT + 1):
        m = np.round(mid * 2.0 ** shift).astype(np.int64)
        low, high = offsets(thr, m, shift, lo, hi)
        if (low <= high).all():
            c = np.where(low == np.iinfo(np.int64).min, high, low)
            return Requantizer(m, c, shift, thr.shape[1], k_lo, k_hi)
    return None


def exhaustive_check(thresholds: np.ndarray, rq: Requantizer, lo: int, hi: int) -> bool:
    """True if the requantiser counts like the thresholds on every integer of [lo, hi]. Both are non-decreasing
    steps (m >= 0), so they agree everywhere once they agree at lo, hi and on both sides of every step (the
    first integer at or above a threshold): a step that left level j between two thresholds could not come back."""
    thr = np.sort(clip_thresholds(thresholds, lo, hi), axis=1)
    steps = np.ceil(thr).astype(np.int64)
    ends = np.broadcast_to(np.array([lo, hi], dtype=np.int64), (thr.shape[0], 2))
    ks = np.clip(np.concatenate([steps - 1, steps, ends], axis=1), lo, hi)   # (C, 2N + 2)
    want = np.stack([np.searchsorted(row, k, side="right") for row, k in zip(thr, ks)])
    return bool(np.array_equal(want, rq.level(ks.T).T))


def requantizer_node(name: str, src: str, dst: str, params: str, channels: int, idt, odt, actval: int,
                     vectors: list[int], shift: int, levels: int, clamp: tuple[int, int], pieces: int = 1) -> object:
    """A Requantize node of xnorflow's domain (python execution in hw/ops/requantize.py)."""
    return helper.make_node("Requantize", [src, params], [dst], domain=DOMAIN, backend="fpgadataflow",
                            name=name, NumChannels=channels, PE=1, inputDataType=idt.name,
                            outputDataType=odt.name, numInputVectors=vectors, Shift=shift, Levels=levels,
                            InputMin=clamp[0], InputMax=clamp[1], ActVal=actval, Pieces=pieces)


def set_requant_params(model: ModelWrapper, name: str, rq: Requantizer) -> None:
    """The node's per-channel constants as initializer `name`: (C, 2) int64 of m and c, annotated with the signed
    type that holds them (the thresholds' annotation it replaces would not)."""
    params = np.stack([rq.m, rq.c], axis=1).astype(np.int64)
    model.set_initializer(name, params)
    model.set_tensor_datatype(name, signed_type(int(params.min()), int(params.max())))


class ThresholdsToRequantizers(Transformation):
    """Thresholding nodes, and MVAUs' thresholds, of many affine thresholds -> Requantize (exact, checked)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in list(model.graph.node):
            if node.op_type == "Thresholding":
                replace_thresholding(model, node)
            elif node.op_type == "MVAU" and not getCustomOp(node).get_nodeattr("noActivation"):
                split_mvau(model, node)
        return model, False


def fitted(model: ModelWrapper, thresholds_name: str, channels: int, lo: int, hi: int) -> Requantizer | None:
    """The requantiser of a node's thresholds over input range [lo, hi], when they are many and one fits."""
    thr = model.get_initializer(thresholds_name)
    if thr is None or thr.shape[-1] < MIN_THRESHOLDS:
        return None
    thr = np.broadcast_to(thr, (channels, thr.shape[-1]))
    rq = find_requantizer(thr, lo, hi)
    if rq is None or not fits_int64(rq.m, rq.c, rq.lo, rq.hi):
        return None
    return rq if exhaustive_check(thr, rq, lo, hi) else None


def fits_int64(m: np.ndarray, c: np.ndarray, lo: int, hi: int) -> bool:
    """True if the input clamp [lo, hi] fits the RTL's 32-bit parameters and m k + c stays inside int64 (the python
    execution's arithmetic) for every multiplier m and offset c; a layer outside keeps its thresholds or table."""
    k_bits = signed_type(lo, hi).bitwidth()
    m_bits = signed_type(int(m.min()), int(m.max())).bitwidth()
    c_bits = signed_type(int(c.min()), int(c.max())).bitwidth()
    return k_bits <= 32 and max(k_bits + m_bits, c_bits) + 1 <= 63


def replace_thresholding(model: ModelWrapper, node) -> None:
    """A Thresholding node whose thresholds fit one requantiser becomes that Requantize node."""
    inst = getCustomOp(node)
    idt, ch = inst.get_input_datatype(0), inst.get_nodeattr("NumChannels")
    rq = fitted(model, node.input[1], ch, int(idt.min()), int(idt.max()))
    if rq is None:
        return
    set_requant_params(model, node.input[1], rq)
    new = requantizer_node(node.name.replace("Thresholding", "Requantize"), node.input[0], node.output[0],
                           node.input[1], ch, idt, inst.get_output_datatype(), inst.get_nodeattr("ActVal"),
                           list(inst.get_nodeattr("numInputVectors")), rq.shift, rq.levels, (rq.lo, rq.hi))
    model.graph.node.insert(list(model.graph.node).index(node), new)
    model.graph.node.remove(node)


def split_mvau(model: ModelWrapper, node) -> None:
    """An MVAU whose thresholds fit one requantiser: the MVAU without activation (its accumulator out), then
    the Requantize node."""
    inst = getCustomOp(node)
    lo, hi = acc_range(inst, is_xnor(inst))
    mh = inst.get_nodeattr("MH")
    rq = fitted(model, node.input[2], mh, lo, hi)
    if rq is None:
        return
    acc_t = uint_for(hi) if lo >= 0 else signed_type(lo, hi)
    acc, params = model.make_new_valueinfo_name(), node.input[2]
    set_requant_params(model, params, rq)
    out, odt, actval = node.output[0], inst.get_output_datatype(), inst.get_nodeattr("ActVal")
    node.input.remove(params)
    node.output[0] = acc
    inst.set_nodeattr("noActivation", 1)
    inst.set_nodeattr("outputDataType", acc_t.name)
    inst.set_nodeattr("ActVal", 0)
    model.set_tensor_shape(acc, model.get_tensor_shape(out))
    model.set_tensor_datatype(acc, acc_t)
    vectors = list(model.get_tensor_shape(out)[:-1])
    new = requantizer_node(f"Requantize_{node.name}", acc, out, params, mh, acc_t, odt, actval, vectors, rq.shift,
                           rq.levels, (rq.lo, rq.hi))
    model.graph.node.insert(list(model.graph.node).index(node) + 1, new)
