"""The boards a build targets: FPGA part, resources and clock (no FPGA tools needed to name them)."""
from dataclasses import dataclass

from xnorflow.errors import XnorflowError

DEFAULT = "Pynq-Z2"  # the board of `--board` and `make bitfile` (BOARD) when none is named


@dataclass(frozen=True)
class Board:
    """A target board: its FPGA part and resources (LUT, FF, 36 Kb block RAMs, DSPs)."""

    name: str
    part: str
    lut: int
    ff: int
    bram36: int
    dsp: int
    clock_mhz: float
    family: str           # "zynq" (Zynq-7000, processing_system7) or "zynquplus" (Zynq UltraScale+, zynq_ultra_ps_e)

    @property
    def axi_bits(self) -> int:
        """Data width of the shell's AXI4 masters: the HP ports' 64 bits on Zynq-7000, 128 on UltraScale+."""
        return 64 if self.family == "zynq" else 128

    @property
    def addr_bits(self) -> int:
        """Address width of the shell's AXI4 masters: 32 on Zynq-7000, 40 on UltraScale+ (DDR above 4 GiB)."""
        return 32 if self.family == "zynq" else 40


BOARDS = {b.name: b for b in (
    Board("Pynq-Z1", "xc7z020clg400-1", 53200, 106400, 140, 220, 100.0, "zynq"),
    Board("Pynq-Z2", "xc7z020clg400-1", 53200, 106400, 140, 220, 100.0, "zynq"),
    Board("Ultra96", "xczu3eg-sbva484-1-e", 70560, 141120, 216, 360, 200.0, "zynquplus"),
    Board("ZCU104", "xczu7ev-ffvc1156-2-e", 230400, 460800, 312, 1728, 200.0, "zynquplus"),
    Board("KV260", "xck26-sfvc784-2LV-c", 117120, 234240, 144, 1248, 200.0, "zynquplus"),
)}


def board(name: str) -> Board:
    """The board called `name` (case-insensitive), or one clear error listing the known boards."""
    for key, b in BOARDS.items():
        if key.lower() == str(name).lower():
            return b
    raise XnorflowError(f"unknown board '{name}'", f"use one of: {', '.join(BOARDS)}")
