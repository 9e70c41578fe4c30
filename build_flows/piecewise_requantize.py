"""Per-channel lookup tables that are two affine-then-floor pieces -> one two-piece integer requantiser.

A ChannelwiseLUT (build_flows/chain_lut.py) tabulates a chain no threshold expresses, such as ReActNet's RPReLU
(ReActNet Eq. 3: shift, PReLU slope, shift) or R2B's PReLU times a scale, onto an 8-bit grid: 2^b entries per
channel. Such a chain is affine on either side of the PReLU's knee, so its table is, per channel, level(x) =
floor((m_i x + c_i) / 2^s) with piece i = 0 below a breakpoint t and 1 from t on, each piece monotonic in either
direction (a negative PReLU slope decreases). Per channel, the breakpoint is the end of the longest prefix of
codes that one affine floor fits (a prefix of a fitting range fits too, so no other split leaves a suffix that
fits where this one does not); each piece's (m, c) comes from requantize.py's interval search (a decreasing
piece on mirrored x), with one shift s per layer. The layer becomes a `Requantize` of Pieces=2 only where the
result equals the table on every source code of every channel (at most 2^10: checked exhaustively); otherwise
it keeps its table, and so does a table onto fewer than MIN_THRESHOLDS levels (a sign: a small table beats a
multiplier).
"""
from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from xnorflow.build_flows.requantize import (MAX_SHIFT, MIN_THRESHOLDS, fits_int64, offsets, requantizer_node,
                                             slope_middle)
from xnorflow.hw.ops.requantize import piecewise_level
from xnorflow.hw.streams import signed_type

def step_thresholds(levels: np.ndarray, lo: np.ndarray, hi: np.ndarray, count: int) -> np.ndarray:
    """Per row, thresholds 1..count of the row's non-decreasing levels on its index window [lo, hi] (the first
    index at or above which the level reaches j; hi + 1 where it never does)."""
    j = np.arange(1, count + 1)
    return np.stack([a + np.searchsorted(row[a:b + 1], j, side="left") for row, a, b in zip(levels, lo, hi)])


def increasing_fit(levels: np.ndarray, lo: np.ndarray, hi: np.ndarray, count: int) -> np.ndarray:
    """Per row, True where one non-decreasing floor(a i + b) equals the levels on the index window [lo, hi]."""
    fits = np.zeros(levels.shape[0], dtype=bool)
    idx = np.arange(levels.shape[1])
    inside = (idx[None, 1:] > lo[:, None]) & (idx[None, 1:] <= hi[:, None])
    mono = ~((np.diff(levels, axis=1) < 0) & inside).any(axis=1)
    if mono.any():
        thr = step_thresholds(levels[mono], lo[mono], hi[mono], count)
        fits[mono] = ~np.isnan(slope_middle(thr, lo[mono], hi[mono]))
    return fits


def piece_fits(levels: np.ndarray, lo: np.ndarray, hi: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether one affine floor fits the window [lo, hi], and whether it must decrease (mirrored)."""
    last = levels.shape[1] - 1
    up = increasing_fit(levels, lo, hi, count)
    down = increasing_fit(levels[:, ::-1], last - hi, last - lo, count)
    return up | down, ~up & down


def breakpoints(levels: np.ndarray, count: int) -> np.ndarray:
    """Per row, the first index of piece 1: one past the longest prefix one affine floor fits (binary search;
    at most the last index, so that both pieces are non-empty)."""
    rows, last = levels.shape[0], levels.shape[1] - 1
    low, high, zero = np.zeros(rows, dtype=np.int64), np.full(rows, last, dtype=np.int64), np.zeros(rows, np.int64)
    while (low < high).any():
        mid = (low + high + 1) // 2
        ok, _ = piece_fits(levels, zero, mid, count)
        low, high = np.where(ok, mid, low), np.where(ok, high, mid - 1)
    return np.minimum(low + 1, last)


def fit_pieces(levels: np.ndarray, windows: list[tuple[np.ndarray, np.ndarray]],
               count: int) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]] | None:
    """One shift s and, per window (index range per row), integer (m, c) over the index with
    floor((m i + c) / 2^s) == level on the window, m < 0 for a decreasing piece; None if some window has none."""
    last, pieces = levels.shape[1] - 1, []
    for lo, hi in windows:
        ok, down = piece_fits(levels, lo, hi, count)
        if not ok.all():
            return None
        flipped = np.where(down[:, None], levels[:, ::-1], levels)
        a, b = np.where(down, last - hi, lo), np.where(down, last - lo, hi)
        thr = step_thresholds(flipped, a, b, count)
        pieces.append((thr, a, b, down, slope_middle(thr, a, b)))
    for shift in range(MAX_SHIFT + 1):
        fitted = [piece_at_shift(shift, last, *piece) for piece in pieces]
        if all(f is not None for f in fitted):
            return shift, fitted
    return None


def piece_at_shift(shift: int, last: int, thr: np.ndarray, lo: np.ndarray, hi: np.ndarray, down: np.ndarray,
                   mid: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(m, c) over the unmirrored index at `shift` (m i' + c on mirrored i' = last - i is -m i + c + m last)."""
    m = np.round(mid * 2.0 ** shift).astype(np.int64)
    low, high = offsets(thr, m, shift, lo, hi)
    if not (low <= high).all():
        return None
    c = np.where(low == np.iinfo(np.int64).min, high, low)
    return np.where(down, -m, m), np.where(down, c + m * last, c)


def piecewise_constants(table: np.ndarray, idt: DataType, odt: DataType) -> tuple[int, np.ndarray] | None:
    """(s, (C, 5) int64 of m0, c0, m1, c1, t over the input values) of a two-piece requantiser equal to the
    table (levels above odt's minimum) on every code; None where none fits."""
    levels = np.rint(table).astype(np.int64) - int(odt.min())
    count = int(odt.max() - odt.min())
    t = breakpoints(levels, count)
    zero, last = np.zeros_like(t), np.full_like(t, levels.shape[1] - 1)
    found = fit_pieces(levels, [(zero, t - 1), (t, last)], count)
    if found is None:
        return None
    shift, ((m0, c0), (m1, c1)) = found
    x0 = int(idt.min())                          # m i + c with i = x - x0 is m x + (c - m x0)
    params = np.stack([m0, c0 - m0 * x0, m1, c1 - m1 * x0, t + x0], axis=1)
    if not fits_int64(params[:, [0, 2]], params[:, [1, 3]], int(idt.min()), int(idt.max())):
        return None
    return shift, params


def exact(table: np.ndarray, params: np.ndarray, shift: int, idt: DataType, odt: DataType) -> bool:
    """True if the two-piece requantiser equals the table on every input code of every channel."""
    x = np.arange(int(idt.min()), int(idt.max()) + 1, dtype=np.int64)[:, None]
    got = piecewise_level(x, params, shift, int(odt.max() - odt.min())) + int(odt.min())
    return bool(np.array_equal(got.T, np.rint(table).astype(np.int64)))


class TablesToPiecewiseRequantizers(Transformation):
    """ChannelwiseLUT nodes whose tables are two affine-floor pieces per channel -> Requantize (Pieces=2)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in list(model.graph.node):
            if node.op_type == "ChannelwiseLUT":
                replace_table(model, node)
        return model, False


def replace_table(model: ModelWrapper, node) -> None:
    """A ChannelwiseLUT whose table a two-piece requantiser equals on every code becomes that Requantize node."""
    inst = getCustomOp(node)
    idt, odt, table = inst.get_input_datatype(), inst.get_output_datatype(), model.get_initializer(node.input[1])
    few = odt.max() - odt.min() < MIN_THRESHOLDS
    found = None if table is None or few else piecewise_constants(table, idt, odt)
    if found is None or not exact(table, found[1], found[0], idt, odt):
        return
    shift, params = found
    model.set_initializer(node.input[1], params)
    model.set_tensor_datatype(node.input[1], signed_type(int(params.min()), int(params.max())))
    new = requantizer_node(node.name.replace("ChannelwiseLUT", "Requantize"), node.input[0], node.output[0],
                           node.input[1], inst.get_nodeattr("NumChannels"), idt, odt, int(odt.min()),
                           list(inst.get_nodeattr("numInputVectors")), shift, int(odt.max() - odt.min()),
                           (int(idt.min()), int(idt.max())), pieces=2)
    model.graph.node.insert(list(model.graph.node).index(node), new)
    model.graph.node.remove(node)
