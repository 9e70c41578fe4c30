"""The boards a build targets: FPGA part, resources, clock and DDR (no FPGA tools needed to name them).

DDR figures: the PS DDR of each board (Pynq-Z1/Z2: 16-bit DDR3 at 1050 MT/s; Ultra96: 32-bit LPDDR4 at 2133
MT/s; ZCU104 and KV260 (K26 SOM): 64-bit DDR4 at 2400 MT/s) and the PL's high-performance AXI slave ports into it
(Zynq-7000 TRM UG585 ch. 5: four 64-bit AXI_HP ports; Zynq UltraScale+ TRM UG1085 ch. 35: four 128-bit
S_AXI_HPn_FPD ports). Weight streamers may use all four (the shell's frame DMA shares HP0; its bytes per frame are
small beside the weights'). Practical bandwidth is derated from the peak: DDR_DERATE of the DDR's peak in total
(refresh, bank and read/write turnarounds on long sequential read bursts), PORT_DERATE of a port's width per
fabric cycle.
"""
from dataclasses import dataclass

from xnorflow.errors import XnorflowError

DDR_DERATE = 0.7            # practical share of the DDR's peak bandwidth
PORT_DERATE = 0.8           # practical share of an AXI HP port's bytes per cycle

DEFAULT = "Pynq-Z2"  # the board of `--board` and `make bitfile` (BOARD) when none is named


@dataclass(frozen=True)
class Board:
    """A target board: its FPGA part, resources (LUT, FF, 36 Kb block RAMs, DSPs, 288 Kb UltraRAMs), clock and
    PS DDR (transfers per second, bus width, HP ports the weight streamers may use)."""

    name: str
    part: str
    lut: int
    ff: int
    bram36: int
    dsp: int
    clock_mhz: float
    family: str           # "zynq" (Zynq-7000, processing_system7) or "zynquplus" (Zynq UltraScale+, zynq_ultra_ps_e)
    uram: int             # URAM288 blocks (4096 x 72 bits each)
    ddr_mtps: float       # PS DDR mega-transfers per second
    ddr_bits: int         # PS DDR data bus width
    hp_ports: int = 4     # AXI HP ports into the DDR (S_AXI_HP0..3, UG585 ch. 5; S_AXI_HP0..3_FPD, UG1085 ch. 35)

    @property
    def axi_bits(self) -> int:
        """Data width of the shell's AXI4 masters: the HP ports' 64 bits on Zynq-7000, 128 on UltraScale+."""
        return 64 if self.family == "zynq" else 128

    @property
    def port_bytes_per_cycle(self) -> float:
        """Practical bytes per fabric cycle of one HP port: its width, derated."""
        return PORT_DERATE * self.axi_bits / 8

    @property
    def ddr_bytes_per_cycle(self) -> float:
        """Practical bytes per fabric cycle the weight streamers can read in all: the DDR's derated peak, at most
        the HP ports' sum."""
        ddr = DDR_DERATE * self.ddr_mtps * self.ddr_bits / 8 / self.clock_mhz
        return min(ddr, self.hp_ports * self.port_bytes_per_cycle)

    @property
    def addr_bits(self) -> int:
        """Address width of the shell's AXI4 masters: 32 on Zynq-7000, 40 on UltraScale+ (DDR above 4 GiB)."""
        return 32 if self.family == "zynq" else 40


BOARDS = {b.name: b for b in (
    Board("Pynq-Z1", "xc7z020clg400-1", 53200, 106400, 140, 220, 100.0, "zynq", 0, 1050, 16),
    Board("Pynq-Z2", "xc7z020clg400-1", 53200, 106400, 140, 220, 100.0, "zynq", 0, 1050, 16),
    Board("Ultra96", "xczu3eg-sbva484-1-e", 70560, 141120, 216, 360, 200.0, "zynquplus", 0, 2133, 32),
    Board("ZCU104", "xczu7ev-ffvc1156-2-e", 230400, 460800, 312, 1728, 200.0, "zynquplus", 96, 2400, 64),
    Board("KV260", "xck26-sfvc784-2LV-c", 117120, 234240, 144, 1248, 200.0, "zynquplus", 64, 2400, 64),
)}


def board(name: str) -> Board:
    """The board called `name` (case-insensitive), or one clear error listing the known boards."""
    for key, b in BOARDS.items():
        if key.lower() == str(name).lower():
            return b
    raise XnorflowError(f"unknown board '{name}'", f"use one of: {', '.join(BOARDS)}")
