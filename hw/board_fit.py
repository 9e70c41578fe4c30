"""Folding for a whole board budget: PE/SIMD per layer and, per MVAU, where its weights live (FINN's ram_style
"distributed", "block" or "ultra" on chip, or mem_mode "external": streamed from DDR), for the most frames/s.

A layer's rate is max(its compute cycles, its DDR cycles). A DDR layer's weight stream carries its whole matrix once
per input vector (what mvu_core.sv reads: hw/ops/mvau.py weight_stream_bits); the DDR layers share the board's
practical bandwidth (hw/boards.py) in proportion to their bytes, each at most one port's, so a DDR layer takes
max(all DDR bytes / the bandwidth, its bytes / a port's) cycles. The design's cycles/frame is the slowest layer's.

Search (greedy): for each compute target, shrinking by 1.25x (SetFolding's rule per layer, hw/folding.py; then
bisected between the last that fits and the first that does not), every
weight memory starts in DDR; then, in order of DDR bytes saved per bit held (the layer's input vectors per frame),
each goes on chip into the kind of which it takes the smallest share of what is left (LUT RAM, block RAM,
UltraRAM where the headroom allows it: hw/resources.py Headroom); what fits nowhere stays in DDR. The target with
the fewest design cycles wins (the slower on a tie).
Resources are the calibrated model's (hw/resource_model.py); the verdict on a board comes from Yosys.
"""
from __future__ import annotations

import math
from collections.abc import Iterator

from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from xnorflow.errors import XnorflowError
from xnorflow.hw.boards import Board
from xnorflow.hw.folding import analytical_bound, fold_for_cycles, layer_cycles
from xnorflow.hw.ops import base_op, hw_nodes, op_of
from xnorflow.hw.ops.mvau import EXTERNAL, streams_weights, weight_bits, weight_stream_bits
from xnorflow.hw.resources import RESOURCES, Budget, Headroom, budget_of, over_budget
from xnorflow.hw.shell import MAX_WEIGHT_PORTS, hp_ports_of

ON_CHIP = ("distributed", "block", "ultra")     # FINN's MVAU ram_style values the fit chooses from
DDR = "ddr"                                     # the fit's name for mem_mode "external"
ON_CHIP_MODE = "internal_decoupled"
BOUND_PROP = "xnorflow_fit_bound"               # model metadata: what limits a fitted folding
STEP = 1.25                                     # compute targets shrink by this factor
LOGIC = ("lut", "dsp")                          # over these with every weight in DDR: the compute bound


class Estimates:
    """Modelled resources per layer, memoised on the node's attributes (folding and placement)."""

    def __init__(self, model: ModelWrapper):
        self.model, self.memo = model, {}

    def __call__(self, node) -> dict[str, float]:
        """The layer's modelled LUT, DSP, RAMB36 and URAM288 (op.estimate)."""
        key = node.SerializeToString()
        if key not in self.memo:
            self.memo[key] = op_of(node).estimate(self.model, node)
        return self.memo[key]

    def total(self) -> dict[str, float]:
        """Summed over all layers."""
        per_layer = [self(n) for n in hw_nodes(self.model)]
        return {r: sum(e[r] for e in per_layer) for r in RESOURCES}


def weight_nodes(model: ModelWrapper) -> list:
    """The MVAUs: the layers whose weights the fit places."""
    return [n for n in hw_nodes(model) if base_op(n.op_type) == "MVAU"]


def place(node, kind: str) -> None:
    """Put a MVAU's weights in `kind`: an ON_CHIP ram_style, or DDR (mem_mode "external")."""
    inst = getCustomOp(node)
    inst.set_nodeattr("mem_mode", EXTERNAL if kind == DDR else ON_CHIP_MODE)
    inst.set_nodeattr("ram_style", "auto" if kind == DDR else kind)


def placement(node) -> str:
    """Where a MVAU's weights are: DDR, or its ram_style."""
    inst = getCustomOp(node)
    return DDR if streams_weights(inst) else inst.get_nodeattr("ram_style")


def stream_bytes(inst, once_per_frame: bool = False) -> float:
    """DDR bytes per frame of a layer's weight stream: words of PE x SIMD weights of ceil(bits / 8) bytes each (the
    shell's layout, hw/shell.py), its matrix once per input vector (the RTL) or once per frame (a model figure: a
    weight buffer the RTL does not have)."""
    word = inst.get_nodeattr("PE") * inst.get_nodeattr("SIMD") * inst.get_input_datatype(1).bitwidth()
    bits = weight_bits(inst) if once_per_frame else weight_stream_bits(inst)
    return bits / word * math.ceil(word / 8)


def ddr_bytes(model: ModelWrapper, once_per_frame: bool = False) -> dict[str, float]:
    """Weight-stream bytes per frame of each DDR-resident layer (stream_bytes)."""
    return {n.name: stream_bytes(getCustomOp(n), once_per_frame) for n in weight_nodes(model) if placement(n) == DDR}


def input_bytes(model: ModelWrapper) -> float:
    """Bytes per frame the input DMA reads on HP0 beside the weight masters."""
    name = model.graph.input[0].name
    return math.prod(model.get_tensor_shape(name)) * model.get_tensor_datatype(name).bitwidth() / 8


def ddr_cycles(model: ModelWrapper, budget: Budget, once_per_frame: bool = False) -> dict[str, float]:
    """DDR cycles per frame of each DDR layer: max(all DDR bytes / the bandwidth, its HP port's bytes / a port's
    bandwidth), the ports as the shell's block design assigns them (hw/shell.py hp_ports_of)."""
    need = ddr_bytes(model, once_per_frame)
    if need and budget.ddr_bytes_per_cycle <= 0:
        return {name: math.inf for name in need}
    shared = sum(need.values()) / budget.ddr_bytes_per_cycle if need else 0.0
    start = input_bytes(model)
    ports = hp_ports_of(list(need.values()), start, budget.hp_ports)
    load = [start] + [0.0] * (budget.hp_ports - 1)
    for port, b in zip(ports, need.values()):
        load[port] += b
    return {name: max(shared, load[port] / budget.port_bytes_per_cycle) for name, port in zip(need, ports)}


def _share(delta: dict[str, float], left: dict[str, float]) -> float:
    """The largest share of what is left that `delta` takes (inf where it does not fit)."""
    shares = [0.0 if d <= 0 else (d / left[r] if d <= left[r] else math.inf) for r, d in delta.items()]
    return max(shares)


def _on_chip(node, est: Estimates, left: dict[str, float]) -> dict[str, float] | None:
    """Move one MVAU's weights from DDR to the on-chip kind it takes the smallest share of `left` of; the resources
    it adds, or None (left in DDR) when no kind fits."""
    in_ddr = est(node)
    best = None
    for kind in ON_CHIP:
        place(node, kind)
        on_chip = est(node)
        delta = {r: on_chip[r] - in_ddr[r] for r in RESOURCES}
        share = _share(delta, left)
        if share < math.inf and (best is None or share < best[0]):
            best = (share, kind, delta)
    place(node, DDR if best is None else best[1])
    return None if best is None else best[2]


def place_weights(model: ModelWrapper, budget: Budget, est: Estimates) -> list[str]:
    """Place every MVAU's weights for the current folding (the greedy order above); the resources over budget once
    placed, or ["weights"] where some do not fit on chip and the budget has no DDR, or more than the shell's
    MAX_WEIGHT_PORTS weight streams would be needed."""
    nodes = weight_nodes(model)
    for node in nodes:
        place(node, DDR)
    caps, use = budget.caps(), est.total()
    left = {r: caps[r] - use[r] for r in RESOURCES}   # below 0 where every weight in DDR is over: a weight stream
    for node in sorted(nodes, key=lambda n: -math.prod(getCustomOp(n).get_nodeattr("numInputVectors"))):
        delta = _on_chip(node, est, left)             # costs logic too, and a rom may cost less
        if delta is not None:
            left = {r: left[r] - delta[r] for r in RESOURCES}
    over = over_budget(est.total(), budget)
    if over:
        return over
    streams = sum(placement(n) == DDR for n in nodes)
    if streams and budget.ddr_bytes_per_cycle <= 0 or streams > MAX_WEIGHT_PORTS:
        return ["weights"]
    return []


def design_cycles(model: ModelWrapper, budget: Budget, once_per_frame: bool = False) -> tuple[int, float]:
    """(compute bound, DDR cycles) per frame of the folded and placed model."""
    return analytical_bound(model), max(ddr_cycles(model, budget, once_per_frame).values(), default=0.0)


def targets(model: ModelWrapper) -> Iterator[int]:
    """Compute targets from the slowest folding, shrinking by STEP while the bound still drops."""
    bound = analytical_bound(fold_for_cycles(model, 2 ** 62))
    yield bound
    while bound > 1:
        new = analytical_bound(fold_for_cycles(model, max(int(bound / STEP), 1)))
        if new >= bound:
            return
        bound = new
        yield bound


def cannot_fit(model: ModelWrapper, over: list[str], est: Estimates, name: str) -> XnorflowError:
    """One line: the layer that needs most of the first resource over budget at the slowest folding."""
    if over == ["weights"]:
        streams = [n.name for n in weight_nodes(model) if placement(n) == DDR]
        if len(streams) > MAX_WEIGHT_PORTS:
            return XnorflowError(f"the model does not fit {name}: even at the slowest folding {len(streams)} layers' "
                                 f"weights must stream from DDR, more than the shell's {MAX_WEIGHT_PORTS} weight "
                                 f"ports", "use a larger board (--board) or a smaller model")
        layer = streams[0]
        return XnorflowError(f"the model does not fit {name}: layer {layer}'s weights fit in no on-chip memory left "
                             f"(LUT RAM, block RAM, UltraRAM) even at the slowest folding",
                             "give the budget DDR bandwidth (a board, or Budget(ddr_bytes_per_cycle=...)) or a "
                             "larger one")
    r = over[0]
    layer = max(hw_nodes(model), key=lambda n: est(n)[r])
    return XnorflowError(f"the model does not fit {name} even at the slowest folding with every weight in DDR: "
                         f"{r.upper()} over budget ({est.total()[r]:g} modelled), most in layer {layer.name} "
                         f"({est(layer)[r]:g})", "use a larger board (--board), more headroom, or a smaller model")


def refine(model: ModelWrapper, budget: Budget, est: Estimates, failed: int, best: tuple[float, int],
           once_per_frame: bool) -> tuple[float, int]:
    """Bisect the compute targets between the best one that fits and the first, STEP faster, that does not: the
    fastest target that fits, and its design cycles, where it gives fewer."""
    lo, hi = failed, best[1]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        fold_for_cycles(model, mid)
        if place_weights(model, budget, est):
            lo = mid
            continue
        hi = mid
        cycles = max(design_cycles(model, budget, once_per_frame))
        if cycles < best[0]:
            best = (cycles, mid)
    return best


def fit(model: ModelWrapper, b: Board | Budget, headroom: Headroom = Headroom(),
        once_per_frame: bool = False) -> tuple[ModelWrapper, str]:
    """Fold and place for the fewest design cycles/frame within the budget; the model and its bound ("compute",
    "on-chip memory" or "DDR"), also kept as the model's metadata BOUND_PROP. once_per_frame: DDR layers read their
    weights once per frame (a model figure, see ddr_bytes)."""
    budget, est = budget_of(b, headroom), Estimates(model)
    best, why_not_faster, failed = None, None, None
    for target in targets(model):
        over = place_weights(model, budget, est)
        if over and best is None:
            raise cannot_fit(model, over, est, getattr(b, "name", "the budget"))
        if over:
            why_not_faster = why_not_faster or ("compute" if set(over) <= set(LOGIC) else "on-chip memory")
            failed = target
            break
        cycles = max(design_cycles(model, budget, once_per_frame))
        if best is None or cycles < best[0]:
            best, why_not_faster = (cycles, target), None
        else:
            why_not_faster = why_not_faster or "on-chip memory"
    if failed is not None:
        best = refine(model, budget, est, failed, best, once_per_frame)
    fold_for_cycles(model, best[1])
    place_weights(model, budget, est)
    compute, ddr = design_cycles(model, budget, once_per_frame)
    bound = "DDR" if ddr >= compute else why_not_faster or "compute"   # None: folded as far as it goes
    model.set_metadata_prop(BOUND_PROP, bound)
    return model, bound


def fit_board(model: ModelWrapper, b: Board | Budget, headroom: Headroom = Headroom()) -> ModelWrapper:
    """The fastest folding and weight placement whose modelled resources and DDR bandwidth fit the budget: a board
    less the headroom, or an absolute Budget."""
    return fit(model, b, headroom)[0]


def check_placement(model: ModelWrapper, b: Board, bitfile: bool = False) -> None:
    """One line for a weight placement the target cannot hold: ram_style "ultra" on a board without UltraRAM, or in
    a bitfile (UltraRAM powers up zero, UG573, and the shell has no path to write weights into it at run time, so
    such a layer would compute with zero weights on the board)."""
    for node in weight_nodes(model):
        if placement(node) == "ultra" and b.uram == 0:
            raise XnorflowError(f"layer {node.name} ({node.op_type}): ram_style 'ultra' on {b.name}, which has no "
                                f"UltraRAM", "use ram_style 'block' or 'distributed', or mem_mode 'external' (DDR)")
        if placement(node) == "ultra" and bitfile:
            raise XnorflowError(f"layer {node.name} ({node.op_type}): ram_style 'ultra' cannot go into a bitfile "
                                f"(UltraRAM powers up zero and the shell cannot load it)",
                                "use ram_style 'block' or 'distributed', or mem_mode 'external' (DDR); 'ultra' "
                                "is for --target rtl/sim/synth")


def layer_rows(model: ModelWrapper, budget: Budget) -> dict[str, dict]:
    """Per HW layer: its folding attributes and compute cycles; for a MVAU also where its weights are, their bits,
    and its DDR cycles and weight-stream bits per frame."""
    ddr, rows = ddr_cycles(model, budget), {}
    for node in hw_nodes(model):
        inst, op = getCustomOp(node), op_of(node)
        row = {a: int(inst.get_nodeattr(a)) for a, _ in op.folding} | {"compute_cycles": layer_cycles(model, node)}
        if base_op(node.op_type) == "MVAU":
            row |= {"memory": placement(node), "weight_bits": weight_bits(inst), "ddr_cycles": ddr.get(node.name, 0.0),
                    "ddr_bits_per_frame": weight_stream_bits(inst) if node.name in ddr else 0}
        rows[node.name] = row
    return rows


def fit_report(model: ModelWrapper, b: Board, headroom: Headroom = Headroom()) -> dict:
    """A folded model on board `b`: frames/s at its clock, the bound that limits it, modelled use against the
    budget, and the rows of layer_rows."""
    budget = budget_of(b, headroom)
    compute, ddr = design_cycles(model, budget)
    cycles = max(compute, ddr)
    return {"board": b.name, "clock_mhz": b.clock_mhz, "frames_per_s": round(b.clock_mhz * 1e6 / cycles, 2),
            "cycles_per_frame": round(cycles, 1), "bound": model.get_metadata_prop(BOUND_PROP) or
            ("DDR" if ddr >= compute else "compute"), "compute_cycles": compute, "ddr_cycles": round(ddr, 1),
            "ddr_bytes_per_cycle": budget.ddr_bytes_per_cycle, "use": Estimates(model).total(),
            "budget": budget.caps(), "layers": layer_rows(model, budget)}
