"""Resources of a stitched design: a quick LUT, DSP, block-RAM and UltraRAM model for fitting a folding to a budget
(a board less its headroom, or absolute figures: hw/board_fit.py), and Yosys counts per layer and for the whole
design checked against the board.

The model exists because folding search tries many foldings and Yosys takes seconds per layer; each op's
terms and memories (hw/ops/) go through the model calibrated against Yosys (hw/resource_model.py,
benchmarks/calibrate_resources.py). The verdict on a board always comes from Yosys, never from the model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from qonnx.core.modelwrapper import ModelWrapper

from xnorflow.hw.boards import Board
from xnorflow.hw.ops import hw_nodes, op_of
from xnorflow.hw.synth import synthesize

RESOURCES = ("lut", "dsp", "bram36", "uram")    # what the model counts (flip-flops it does not)


@dataclass(frozen=True)
class Headroom:
    """Shares of a board's LUTs, DSPs, block RAM, UltraRAM and DDR bandwidth a fitted folding may use; the rest is for
    routing and the PYNQ shell (which uses no block RAM, and little DDR bandwidth for its frames).

    UltraRAM is left out by default: on UltraScale+ it powers up zero (no bitstream initialisation, Xilinx UG901) and
    Yosys maps no initialised memory onto it, so weights there need a run-time load (FINN's
    runtime_writeable_weights) that the shell does not have yet; uram=1.0 models what it would give."""

    lut: float = 0.70
    dsp: float = 0.80
    bram: float = 1.00
    uram: float = 0.0
    ddr: float = 1.00


@dataclass(frozen=True)
class Budget:
    """Absolute resources a fitted folding may use: LUTs (logic + LUT RAM), DSP48s, RAMB36 units, URAM288 blocks, and
    the DDR bytes per cycle weight streams may read in all and per HP port (0: every weight on chip), and the HP ports
    the weight masters are spread over (hw/shell.py hp_ports_of)."""

    lut: float
    dsp: float = math.inf
    bram36: float = math.inf
    uram: float = 0
    ddr_bytes_per_cycle: float = 0.0
    port_bytes_per_cycle: float = math.inf
    hp_ports: int = 4

    def caps(self) -> dict[str, float]:
        """The limits of RESOURCES."""
        return {"lut": self.lut, "dsp": self.dsp, "bram36": self.bram36, "uram": self.uram}


def budget_of(b: Board | Budget, headroom: Headroom) -> Budget:
    """The budget itself, or a board's resources times the headroom's shares."""
    if isinstance(b, Budget):
        return b
    return Budget(headroom.lut * b.lut, headroom.dsp * b.dsp, headroom.bram * b.bram36, headroom.uram * b.uram,
                  headroom.ddr * b.ddr_bytes_per_cycle, b.port_bytes_per_cycle, b.hp_ports)


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


def memory_verdict(table_bits: int, b: Board) -> str | None:
    """Why thresholds, tables and requantiser constants of `table_bits` cannot fit `b`'s on-chip memory, else None.

    Weights may stream from DDR (FINN's mem_mode "external"), so only what has to stay on chip counts; the bound is
    generous (every block RAM and UltraRAM bit plus 64 bits of LUT RAM per LUT), so it refuses only designs that
    cannot fit with any folding, in seconds, before RTL generation and Yosys take hours over them."""
    have = b.bram36 * 36 * 1024 + b.uram * 288 * 1024 + b.lut * 64
    if table_bits <= have:
        return None
    return (f"the design does not fit {b.name}: its thresholds and tables need {table_bits / 1e6:.1f} Mbit on chip, "
            f"more than the {have / 1e6:.1f} Mbit of block RAM, UltraRAM and LUT RAM the board has at most; use a "
            f"larger board (--board), a smaller model, or --target rtl/sim to simulate it")


def modelled_use(model: ModelWrapper) -> dict[str, float]:
    """Modelled LUTs, DSPs, RAMB36 and URAM288 of all layers."""
    layers = estimate_layers(model).values()
    return {k: sum(e[k] for e in layers) for k in RESOURCES}


def over_budget(use: dict[str, float], limit: Budget) -> list[str]:
    """The resources of `use` beyond the budget."""
    caps = limit.caps()
    return [r for r in RESOURCES if use[r] > caps[r]]


def within(model: ModelWrapper, b: Board | Budget, headroom: Headroom = Headroom()) -> bool:
    """True if the modelled LUTs, DSPs, block RAM and UltraRAM stay inside the budget (a board less the headroom)."""
    return not over_budget(modelled_use(model), budget_of(b, headroom))
