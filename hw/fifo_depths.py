"""FIFO depths for shortcut branches, by analysis of each layer's word-level data dependencies.

A DuplicateStreams fork feeds both branches in lockstep; the join (ElementwiseAdd, StreamingConcat)
takes one word from each. If one branch needs many more fork words than the other before it can
deliver word k (a sliding window needs rows ahead, a global pool a whole frame), the other branch
must buffer the difference, or the fork blocks and the design deadlocks. For every layer we know
exactly how many input words it needs to emit its first k output words (`need`); composing these
along each branch from the nearest common fork gives, word by word, how far the fork must run
ahead, and so the words the other branch's FIFO (at the join) must hold. Layers we do not model
are assumed to need their whole input frame: safe, and sized for it.

Full rate needs more than freedom from deadlock. At full rate every stream moves evenly over the
bound's period, so a consumer that uses its input in bursts (padding rows, window rows, an MVAU's
vector per output tile) needs a FIFO holding the spread of its lag behind an even stream
(rate_depths), and the fork of a shortcut runs ahead of the join by the sum of the layers' lags on
the slower branch, which the other branch's FIFO must hold (rate_join_depths). THROUGHPUT_SLACK
words on top absorb the fork's and the join's own latency; every hop on a branch (a layer's pipeline register
and the FIFO in front of it, HOP_CYCLES) and its layers' extra stages (HWOp.extra_latency: a threshold
search's K stages where one compare stage was, a requantiser's multiply and sum) add their cycles to the other
branches' FIFOs, which must hold the words that arrive meanwhile (at most one a cycle).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper

from xnorflow.hw.ops import base_op, hw_nodes, op_of
from xnorflow.hw.ops.common import LayerRTL, Port

THROUGHPUT_SLACK = 8
HOP_CYCLES = 2  # latency of one layer on a branch: its output register and the FIFO in front of it
RATE_SLACK = 2


@dataclass
class Edge:
    """A stream between two layers and the FIFO on it."""

    tensor: str
    src: str
    src_port: Port
    dst: str
    dst_port: Port
    depth: int = 0


def need(model: ModelWrapper, node, rtl: LayerRTL, i: int) -> np.ndarray:
    """Per output word k of one frame: input-i words the layer needs before it can emit words 0..k."""
    return op_of(node).need(node, rtl, i)


def _through(fork_need: np.ndarray, needed: np.ndarray) -> np.ndarray:
    """Fork words behind `needed` words of a stream whose word j needs fork_need[j] fork words."""
    return np.where(needed > 0, fork_need[np.maximum(needed, 1) - 1], 0)


def fork_needs(model: ModelWrapper, layers: dict, fork) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """For every stream downstream of `fork`: fork words needed before each of its words, and the
    pipeline latency on the way (cycles: hops and each layer's extra stages, HWOp.extra_latency)."""
    out = {t: np.arange(1, layers[fork.name].outputs[0].words + 1) for t in fork.output}
    lat = dict.fromkeys(fork.output, 0)
    nodes = hw_nodes(model)
    for node in nodes[nodes.index(fork) + 1:]:
        data = [t for t in node.input if model.get_initializer(t) is None]
        reach = [(i, t) for i, t in enumerate(data) if t in out]
        if not reach:
            continue
        rtl = layers[node.name]
        arr = np.max([_through(out[t], need(model, node, rtl, i)) for i, t in reach], axis=0)
        out |= {t: arr for t in node.output}
        lat |= dict.fromkeys(node.output, max(lat[t] for _, t in reach) + HOP_CYCLES
                                       + op_of(node).extra_latency(rtl))
    return out, lat


def join_depths(model: ModelWrapper, layers: dict, join, needs: dict[str, np.ndarray]) -> dict[str, int]:
    """Words each join input's FIFO must hold while the other branch makes the fork run ahead of it."""
    data = [t for t in join.input if model.get_initializer(t) is None]
    per_input = [need(model, join, layers[join.name], i) for i in range(len(data))]
    behind = [_through(needs[t], n) for t, n in zip(data, per_input)]
    fork_words = np.max(behind, axis=0)
    depths = {}
    for t, n, own in zip(data, per_input, behind):
        lead = np.searchsorted(needs[t], fork_words, side="right") - n + 1
        depths[t] = int(np.max(np.where(own < fork_words, lead, 0))) + THROUGHPUT_SLACK
    return depths


def _lag(need_frame: np.ndarray, n_in: int) -> np.ndarray:
    """need(k) - k * n_in / n_out over two frames back to back: input words a consumer needs ahead of an
    even stream. At full rate every stream of the pipeline moves evenly over the bound's period; the
    consumer emits output word k at time k/n_out of a frame and must by then have need(k) input words,
    which arrive at a steady n_in per frame."""
    n_out = len(need_frame)
    needs = np.concatenate([need_frame, need_frame + n_in])
    return needs - np.arange(1, 2 * n_out + 1) * (n_in / n_out)


def _rate_depth(need_frame: np.ndarray, n_in: int) -> int:
    """Words a FIFO must hold so that an even input stream meets `need_frame` in time: the lag's spread."""
    return int(np.ceil(np.ptp(_lag(need_frame, n_in))))


def rate_depths(model: ModelWrapper, layers: dict, edges: list[Edge]) -> dict[str, int]:
    """FIFO depth of every edge into a layer whose input use is bursty (padding, windows, MVAU vectors).

    Accumulators (global pool, label select) take their input as it comes: none. An MVAU whose one vector
    is the whole frame (a head on a flattened feature map) reads no input during its other NF - 1 tiles,
    so the next frame must wait in its FIFO.
    """
    depths = {}
    for e in edges:
        node, rtl = model.get_node_from_name(e.dst), layers[e.dst]
        if op_of(node).accumulates:
            continue
        ins = [t for t in node.input if model.get_initializer(t) is None]
        i = ins.index(e.tensor)
        n_in = rtl.inputs[i].words
        depths[e.tensor] = max(_rate_depth(need(model, node, rtl, i), n_in) - op_of(node).spare(rtl), 0) + RATE_SLACK
    return depths


def _lead(model: ModelWrapper, layers: dict, reach: dict, fork, tensor: str) -> float:
    """Fork words the fork runs ahead of `tensor` at full rate: each layer's largest lag on the way, summed."""
    node = model.find_producer(tensor)
    if node.name == fork.name:
        return 0.0
    rtl, n_fork = layers[node.name], layers[fork.name].outputs[0].words
    leads = [0.0]
    for i, t in enumerate(t for t in node.input if model.get_initializer(t) is None):
        if t in reach:
            n_in = rtl.inputs[i].words
            own = max(float(np.max(_lag(need(model, node, rtl, i), n_in))), 0.0) * n_fork / n_in
            leads.append(own + _lead(model, layers, reach, fork, t))
    return max(leads)


def rate_join_depths(model: ModelWrapper, layers: dict, join, fork, reach: dict) -> dict[str, int]:
    """Words each join input's FIFO holds at full rate while the slower branch's FIFOs fill (even streams)."""
    data = [t for t in join.input if model.get_initializer(t) is None]
    leads = {t: _lead(model, layers, reach, fork, t) for t in data}
    n_fork = layers[fork.name].outputs[0].words
    return {t: int(np.ceil((max(leads.values()) - lead) * reach[t].size / n_fork)) + THROUGHPUT_SLACK
            for t, lead in leads.items()}


def branch_depths(model: ModelWrapper, layers: dict, edges: list[Edge]) -> dict[str, int]:
    """FIFO depth of every join input edge, from its nearest common fork: deadlock-free and at full rate."""
    nodes = hw_nodes(model)
    forks = [n for n in nodes if base_op(n.op_type) == "DuplicateStreams"]
    reach = {f.name: fork_needs(model, layers, f) for f in forks}
    edge_names = {e.tensor for e in edges}
    depths = {}
    for node in nodes:
        data = [t for t in node.input if model.get_initializer(t) is None]
        if len(data) < 2:
            continue
        common = [f for f in forks if all(t in reach[f.name][0] for t in data)]
        if common:
            fork, (needs, lat) = common[-1], reach[common[-1].name]
            found = join_depths(model, layers, node, needs)
            rated = rate_join_depths(model, layers, node, fork, needs)
            slowest = max(lat[t] for t in data)
            depths |= {t: max(d, rated[t]) + slowest - lat[t] for t, d in found.items() if t in edge_names}
    return depths
