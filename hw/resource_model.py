"""The calibrated resource model of a layer: LUTs (logic + LUT RAM) as a linear sum of structural terms, block RAM
from the memories Yosys puts on it; coefficients fitted to Yosys synth_xilinx counts (calibration.json).

Each op names its terms (hw/ops/, HWOp.terms) and memories (HWOp.memories); a memory in style "ultra" counts
URAM288 blocks, one in style "block" RAMB36 units, one in "distributed" LUTs; with style "auto" it goes to block
RAM when it has at least the calibrated depth and bits of its kind (rom.sv / ram_sdp.sv / stream_fifo.sv:
Yosys memory_libmap's choice, measured on the bare modules), else its LUT cells are terms ("rom_luts",
"ram_luts") of the layer's fit.
The fit minimises the largest error over the grid relative to a layer's Yosys LUTs (absolute below SMALL), the
per-layer bound the model is held to (a linear program, scipy linprog); no term costs negative LUTs.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.optimize import linprog

from xnorflow.errors import XnorflowError

CALIBRATION = Path(__file__).parent / "ops" / "calibration.json"
COMMAND = "python benchmarks/calibrate_resources.py"
# 7-series block RAM shapes (depth, width) Yosys maps a memory onto, as RAMB18 (half a RAMB36) and RAMB36
RAMB18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
RAMB36_SHAPES = ((32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36), (512, 72))
BLOCK_COLUMNS = ((1024, 36), (2048, 18), (4096, 9))   # RAMB36 shapes (depth, width) past 512 words (UG473)
URAM_SHAPE = (4096, 72)     # UltraScale+ URAM288: one shape, cascaded in depth and width (Xilinx UG573)
# rom: read-only ($readmemh), registered read; ram: written at run time, registered read; async: written at run
# time, read without a register (stream_fifo.sv; Yosys may still move a deep one to block RAM)
KINDS = ("rom", "ram", "async")
TOLERANCE = 0.05            # the model's target: within 5% of Yosys per layer from SMALL Yosys LUTs up,
SMALL = 200                 # and within TOLERANCE x SMALL LUTs (10) below


@dataclass(frozen=True)
class Memory:
    """One inferred memory: depth x width bits of a kind (KINDS) and a style (rom.sv's and ram_sdp.sv's STYLE)."""

    depth: int
    width: int
    kind: str               # one of KINDS
    style: str = "auto"     # "auto" (Yosys chooses), "block", "distributed" or "ultra"
    column: int = 0         # rom.sv's COLUMN: side-by-side memories of this many bits (0: one memory)

    @property
    def bits(self) -> int:
        """Bits held."""
        return self.depth * self.width


def block_column(depth: int) -> int:
    """rom.sv's COLUMN for a block rom of `depth` words: the width of the RAMB36 shape one block deep when it is
    past 512 words (up to 4096), so that no LUT read mux joins block RAMs in depth; 0 (one memory) otherwise."""
    return next((w for d, w in BLOCK_COLUMNS if depth <= d), 0) if depth > 512 else 0


def shape_bram36(mem: Memory) -> float:
    """RAMB36 units of the cheapest tiling of `mem` (of each of its columns) by one block RAM shape (RAMB18 counts
    one half)."""
    if mem.column:
        widths = [min(mem.column, mem.width - lo) for lo in range(0, mem.width, mem.column)]
        return sum(shape_bram36(Memory(mem.depth, w, mem.kind, mem.style)) for w in widths)

    def tiles(shapes: tuple, unit: float) -> float:
        return min(math.ceil(mem.depth / d) * math.ceil(mem.width / w) * unit for d, w in shapes)
    return min(tiles(RAMB18_SHAPES, 0.5), tiles(RAMB36_SHAPES, 1.0))


@lru_cache(maxsize=1)
def calibration() -> dict:
    """The committed calibration (block-RAM thresholds, LUT coefficients per model key)."""
    if not CALIBRATION.exists():
        raise XnorflowError(f"{CALIBRATION.name} is missing", f"run `{COMMAND}`")
    return json.loads(CALIBRATION.read_text())


def on_block_ram(mem: Memory) -> bool:
    """True if Yosys maps `mem` to block RAM: its style says so, or (auto) it has at least the calibrated depth
    and bits of its kind."""
    if mem.style != "auto":
        return mem.style == "block"
    rule = calibration()["block_ram"][mem.kind]
    return mem.depth >= rule["min_depth"] and mem.bits >= rule["min_bits"]


def in_luts(mem: Memory) -> bool:
    """True if `mem` stays in LUTs (neither block RAM nor UltraRAM)."""
    return mem.style != "ultra" and not on_block_ram(mem)


def uram288(mems: list[Memory]) -> int:
    """URAM288 blocks of the memories in style "ultra": depth and width tiled by 4096 x 72."""
    depth, width = URAM_SHAPE
    return sum(math.ceil(m.depth / depth) * math.ceil(m.width / width) for m in mems if m.style == "ultra")


def lut_cells(mem: Memory) -> float:
    """LUTs of a memory left in LUTs: a rom as logic, a LUT6 per 64 words of a bit (MUXF7/F8 join them); a ram
    as LUT RAM, a RAM32M per 32 words x 6 bits or a RAM64M per 64 words x 3 bits (Xilinx UG474)."""
    if mem.kind == "rom":
        return mem.width * math.ceil(mem.depth / 64) if mem.depth > 2 else 0   # 1 or 2 words: constants, wires
    words, bits = (32, 6) if mem.depth <= 32 else (64, 3)
    return math.ceil(mem.width / bits) * math.ceil(mem.depth / words)


def memory_terms(mems: list[Memory]) -> dict[str, float]:
    """LUT terms of the memories left in LUTs: rom logic ("rom_luts") and LUT RAM cells ("ram_luts")."""
    out = {"rom_luts": 0.0, "ram_luts": 0.0}
    for m in mems:
        if in_luts(m):
            out["rom_luts" if m.kind == "rom" else "ram_luts"] += lut_cells(m)
    return out


def bram36(mems: list[Memory]) -> float:
    """RAMB36 units of the memories on block RAM."""
    return sum(shape_bram36(m) for m in mems if on_block_ram(m))


def coefficients(key: str) -> dict[str, float]:
    """The LUT coefficients of model `key`; one line when the calibration lacks it."""
    coefs = calibration()["luts"].get(key)
    if coefs is None:
        raise XnorflowError(f"the resource calibration has no model '{key}'", f"rerun `{COMMAND}`")
    return coefs


def predict(key: str, terms: dict[str, float]) -> int:
    """Modelled LUTs of model `key` for `terms`."""
    coefs = coefficients(key)
    return max(int(round(sum(c * terms.get(t, 0.0) for t, c in coefs.items()))), 0)


def fit(rows: list[tuple[dict[str, float], float]]) -> dict[str, float]:
    """Non-negative coefficients of LUTs on terms that minimise the largest error over `rows` relative to
    max(Yosys LUTs, SMALL) (a linear program, scipy linprog): the per-layer bound the model is held to
    (within_target); the terms that vary over `rows` only."""
    names = sorted({t for terms, _ in rows for t, v in terms.items() if v})
    a = np.array([[terms.get(t, 0.0) for t in names] for terms, _ in rows])
    y = np.array([lut for _, lut in rows], dtype=float)
    scale = np.maximum(y, SMALL)   # below SMALL LUTs the bound is absolute (within_target)
    rel, target, ones = a / scale[:, None], y / scale, np.ones((len(rows), 1))
    # minimise e over (coefficients, e) >= 0 subject to -e <= rel @ c - target <= e
    res = linprog(np.r_[np.zeros(len(names)), 1.0], A_ub=np.block([[rel, -ones], [-rel, -ones]]),
                  b_ub=np.r_[target, -target], method="highs")
    return {t: round(float(c), 4) for t, c in zip(names, res.x[:len(names)])}


def fifo_terms(width: int, depth: int) -> dict[str, float]:
    """LUT terms of a stream_fifo.sv of `depth` words of `width` bits: an asynchronous-read LUT RAM, and its
    pointers and count (address bits)."""
    return {"base": 1.0, "stream_bits": 2.0 * width, "pointer_bits": float(max(depth - 1, 1).bit_length())} | \
        memory_terms([Memory(depth, width, "async")])


def fifo_luts(width: int, depth: int) -> int:
    """Modelled LUTs of a stream_fifo.sv."""
    return predict("stream_fifo", fifo_terms(width, depth))


def within_target(model: float, yosys: float, tolerance: float = TOLERANCE) -> bool:
    """True if modelled LUTs are within `tolerance` of Yosys's from SMALL LUTs up, within `tolerance` of SMALL below
    (10 LUTs at TOLERANCE)."""
    return abs(model - yosys) <= tolerance * max(yosys, SMALL)
