"""Resources of a stitched design: a quick LUT, DSP and block-RAM model for fitting a folding to a budget (a
board less its headroom, or absolute figures), and Yosys counts per layer and for the whole design checked
against the board.

The model exists because folding search tries many foldings and Yosys takes seconds per layer; each op's
terms and memories (hw/ops/) go through the model calibrated against Yosys (hw/resource_model.py,
benchmarks/calibrate_resources.py). The verdict on a board always comes from Yosys, never from the model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from qonnx.core.modelwrapper import ModelWrapper

from xnorflow.hw.boards import Board
from xnorflow.hw.folding import analytical_bound, fold_for_cycles
from xnorflow.hw.ops import hw_nodes, op_of
from xnorflow.hw.synth import synthesize


@dataclass(frozen=True)
class Headroom:
    """Shares of a board's LUTs, DSPs and block RAM a fitted folding may use; the rest is for routing and the PYNQ
    shell (which uses no block RAM)."""

    lut: float = 0.70
    dsp: float = 0.80
    bram: float = 1.00


@dataclass(frozen=True)
class Budget:
    """Absolute resources a fitted folding may use: LUTs (logic + LUT RAM), DSP48s, RAMB36 units."""

    lut: float
    dsp: float = math.inf
    bram36: float = math.inf


def budget_of(b: Board | Budget, headroom: Headroom) -> Budget:
    """The budget itself, or a board's resources times the headroom's shares."""
    if isinstance(b, Budget):
        return b
    return Budget(headroom.lut * b.lut, headroom.dsp * b.dsp, headroom.bram * b.bram36)


def estimate_layers(model: ModelWrapper) -> dict[str, dict[str, float]]:
    """Modelled LUTs, RAMB36 and DSPs per HW layer of a folded graph (each op's calibrated model)."""
    return {node.name: op_of(node).estimate(model, node) for node in hw_nodes(model)}


def synth_layers(stitched) -> dict[str, dict]:
    """Yosys counts of every layer of a stitched design (identical layers synthesised once)."""
    seen, out = {}, {}
    for name, rtl in stitched.layers.items():
        key = (rtl.design.top, tuple(sorted(rtl.design.params.items())), tuple(sorted(rtl.mem_files.items())))
        if key not in seen:
            res = synthesize(rtl.design.top, rtl.design.sources, rtl.design.params, rtl.mem_files)
            seen[key] = {k: v for k, v in res.items() if k != "cells"}
        out[name] = seen[key]
    return out


def synth_top(stitched) -> dict:
    """Yosys counts of the whole stitched design (layers, FIFOs and all)."""
    res = synthesize(stitched.design.top, stitched.design.sources, {}, stitched.mem_files)
    return {k: v for k, v in res.items() if k != "cells"}


def bram36(counts: dict) -> float:
    """Block RAM in 36 Kb units."""
    return counts.get("ramb36", 0) + counts.get("ramb18", 0) / 2


def fit_verdict(total: dict, per_layer: dict[str, dict], b: Board) -> dict:
    """Use of the board's LUT/FF/BRAM/DSP; what does not fit, with the costliest layers named."""
    use = {"lut": (total["lut"] + total["lutram"], b.lut), "ff": (total["ff"], b.ff),
           "bram36": (bram36(total), b.bram36), "dsp": (total["dsp"], b.dsp)}
    over = [k for k, (used, avail) in use.items() if used > avail]
    costly = sorted(per_layer, key=lambda n: -(per_layer[n]["lut"] + per_layer[n]["lutram"]))[:3]
    verdict = {"board": b.name, "part": b.part,
               "use": {k: {"used": float(u), "available": a, "percent": round(100.0 * u / a, 1)}
                       for k, (u, a) in use.items()},
               "fits": not over, "costliest_layers": costly}
    if over:
        verdict["message"] = (f"the design does not fit {b.name} ({', '.join(over)} over budget); "
                              f"costliest layers: {', '.join(costly)}; fold them further "
                              f"(--folding with smaller PE/SIMD, or a larger board)")
    return verdict


def memory_verdict(weight_bits: int, table_bits: int, b: Board) -> str | None:
    """Why weights and thresholds of `weight_bits + table_bits` cannot fit `b`'s on-chip memory, else None.

    The bound is generous (every block RAM bit plus 64 bits of LUT RAM per LUT), so it refuses only designs that
    cannot fit with any folding, in seconds, before RTL generation and Yosys take hours over them."""
    need, have = weight_bits + table_bits, b.bram36 * 36 * 1024 + b.lut * 64
    if need <= have:
        return None
    return (f"the design does not fit {b.name}: its weights and thresholds need {need / 1e6:.1f} Mbit on chip, more "
            f"than the {have / 1e6:.1f} Mbit of block RAM and LUT RAM the board has at most; use a larger board "
            f"(--board), a smaller model, or --target rtl/sim to simulate it")


def modelled_use(model: ModelWrapper) -> dict[str, float]:
    """Modelled LUTs, DSPs and RAMB36 of all layers."""
    layers = estimate_layers(model).values()
    return {k: sum(e[k] for e in layers) for k in ("lut", "dsp", "bram36")}


def within(model: ModelWrapper, b: Board | Budget, headroom: Headroom = Headroom()) -> bool:
    """True if the modelled LUTs, DSPs and block RAM stay inside the budget (a board less the headroom)."""
    use, limit = modelled_use(model), budget_of(b, headroom)
    return use["lut"] <= limit.lut and use["dsp"] <= limit.dsp and use["bram36"] <= limit.bram36


def fit_board(model: ModelWrapper, b: Board | Budget, headroom: Headroom = Headroom()) -> ModelWrapper:
    """The fastest folding (cycles/frame target, shrinking by 1.25x) whose modelled LUTs, DSPs and block RAM fit
    the budget: a board less the headroom, or an absolute Budget."""
    best = bound = analytical_bound(fold_for_cycles(model, 2 ** 62))
    while bound > 1:
        target = max(int(bound / 1.25), 1)
        new = analytical_bound(fold_for_cycles(model, target))
        if new >= bound or not within(model, b, headroom):
            break
        best = bound = new
    return fold_for_cycles(model, best)
