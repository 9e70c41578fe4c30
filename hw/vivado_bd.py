"""The block design of the PYNQ overlay, as Vivado IP Integrator Tcl: PS, shell, interconnects, clock, reset, IRQ.

One design per board family: the Zynq-7000 PS (`processing_system7`: FCLK_CLK0, M_AXI_GP0, S_AXI_HP0, IRQ_F2P)
or the Zynq UltraScale+ PS (`zynq_ultra_ps_e`: pl_clk0, M_AXI_HPM0_FPD, S_AXI_HP0_FPD, pl_ps_irq0). The shell
is a module reference to its Verilog wrapper (hw/vivado_wrapper.py); Vivado infers its AXI interfaces
from the port names (`s_axi_control_*`, `m_axi_gmem_*`), its clock `ap_clk`, active-low reset `ap_rst_n` and
`interrupt`. The PS's PL clock runs everything at the board's clock; a proc_sys_reset synchronises the PS
reset to it. The register file sits behind a SmartConnect on the PS's general-purpose master; the shell's DDR
masters (m_axi_gmem and one m_axi_wmem<k> per layer that streams its weights, at most 11 + 1 of SmartConnect's 16
slave interfaces, PG247) share another SmartConnect on the PS's high-performance slave port HP0, at the shell's
data width (64 bits on Zynq-7000, 128 on UltraScale+), which arbitrates them round-robin. One HP port for all
keeps the PS configuration, clocking and address map one port's; all streams then share that port's bandwidth
(64 bits per PL clock: 800 MB/s at 100 MHz on Zynq-7000), where spreading the weight masters over HP1..HP3 (UG585
ch. 5: four HP ports, each with its own FIFOs into the DDR controller) would add bandwidth up to the DDR's.
The interrupt goes straight to the PS's fabric IRQ line.
"""
from __future__ import annotations

from dataclasses import dataclass

from xnorflow.hw.boards import Board
from xnorflow.hw.vivado_wrapper import REF, masters

BD_NAME = "xnorflow_bd"
SHELL = "xnorflow_shell"  # the cell name: PYNQ's ip_dict key of the register file
PS = "ps"
CTRL_SC = "ctrl_sc"
MEM_SC = "mem_sc"
RESET = "rst"


@dataclass(frozen=True)
class PsPorts:
    """The PS IP of a board family and the names of the pins and properties the overlay uses."""

    ip: str                 # IP name, e.g. processing_system7
    rule: str               # apply_bd_automation rule that makes DDR/FIXED_IO external and applies the board preset
    clock: str              # PL clock out
    reset: str              # PL reset out (active low)
    master: str             # general-purpose AXI master (to the register file)
    master_clock: str
    slave: str              # high-performance AXI slave (DDR, for the shell's DMA)
    slave_clock: str
    irq: str                # fabric interrupt in
    freq_property: str      # requested PL clock frequency in MHz

    def config(self, board: Board) -> dict[str, str]:
        """CONFIG.* properties that enable the ports above at the board's clock and the shell's data width."""
        if self.ip == "processing_system7":
            return {"PCW_USE_M_AXI_GP0": "1", "PCW_USE_S_AXI_HP0": "1",
                    "PCW_S_AXI_HP0_DATA_WIDTH": str(board.axi_bits), "PCW_EN_CLK0_PORT": "1",
                    "PCW_EN_RST0_PORT": "1", self.freq_property: _mhz(board.clock_mhz),
                    "PCW_USE_FABRIC_INTERRUPT": "1", "PCW_IRQ_F2P_INTR": "1"}
        return {"PSU__USE__M_AXI_GP0": "1", "PSU__USE__M_AXI_GP1": "0", "PSU__USE__M_AXI_GP2": "0",
                "PSU__USE__S_AXI_GP2": "1", "PSU__SAXIGP2__DATA_WIDTH": str(board.axi_bits),
                "PSU__FPGA_PL0_ENABLE": "1", "PSU__OVERRIDE__BASIC_CLOCK": "0",
                self.freq_property: _mhz(board.clock_mhz), "PSU__USE__IRQ0": "1"}


FAMILIES = {
    "zynq": PsPorts("processing_system7", "xilinx.com:bd_rule:processing_system7", "FCLK_CLK0", "FCLK_RESET0_N",
                    "M_AXI_GP0", "M_AXI_GP0_ACLK", "S_AXI_HP0", "S_AXI_HP0_ACLK", "IRQ_F2P",
                    "PCW_FPGA0_PERIPHERAL_FREQMHZ"),
    "zynquplus": PsPorts("zynq_ultra_ps_e", "xilinx.com:bd_rule:zynq_ultra_ps_e", "pl_clk0", "pl_resetn0",
                         "M_AXI_HPM0_FPD", "maxihpm0_fpd_aclk", "S_AXI_HP0_FPD", "saxihp0_fpd_aclk", "pl_ps_irq0",
                         "PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"),
}


def _mhz(value: float) -> str:
    """A frequency as Vivado's properties take it: 100, not 100.0."""
    return f"{value:g}"


def _dict(props: dict[str, str]) -> str:
    """A `[list CONFIG.K {V} ...]` argument of set_property -dict."""
    return "[list " + " ".join(f"CONFIG.{k} {{{v}}}" for k, v in props.items()) + "]"


def _pins(*paths: str) -> str:
    """get_bd_pins of each path, as connect_bd_net takes them."""
    return " ".join(f"[get_bd_pins {p}]" for p in paths)


def _intf(a: str, b: str) -> str:
    """connect_bd_intf_net between two interface pins."""
    return f"connect_bd_intf_net [get_bd_intf_pins {a}] [get_bd_intf_pins {b}]\n"


def _cell(ip: str, name: str) -> str:
    """create_bd_cell of the installed version of Xilinx IP `ip` (the script runs on any Vivado version)."""
    return f"create_bd_cell -type ip -vlnv [get_property VLNV [lindex [get_ipdefs xilinx.com:ip:{ip}:*] end]] {name}\n"


def ps_tcl(board: Board) -> str:
    """The PS: its board preset (when the board's files are installed), DDR/FIXED_IO, ports and clock."""
    ps = FAMILIES[board.family]
    automation = ("[list make_external {FIXED_IO, DDR} apply_board_preset $preset Master Disable Slave Disable]"
                  if board.family == "zynq" else "[list apply_board_preset $preset]")
    return (_cell(ps.ip, PS)
            + "set preset [expr {[get_property BOARD_PART [current_project]] ne \"\" ? 1 : 0}]\n"
            + f"apply_bd_automation -rule {ps.rule} -config {automation} [get_bd_cells {PS}]\n"
            + f"set_property -dict {_dict(ps.config(board))} [get_bd_cells {PS}]\n")


def interconnect_tcl(weights: int) -> str:
    """The shell and two SmartConnects: PS master -> register file, the shell's DDR masters -> PS HP slave."""
    return (f"create_bd_cell -type module -reference {REF} {SHELL}\n"
            + _cell("smartconnect", CTRL_SC)
            + f"set_property -dict [list CONFIG.NUM_SI {{1}} CONFIG.NUM_MI {{1}}] [get_bd_cells {CTRL_SC}]\n"
            + _cell("smartconnect", MEM_SC)
            + f"set_property -dict [list CONFIG.NUM_SI {{{len(masters(weights))}}} CONFIG.NUM_MI {{1}}] "
            f"[get_bd_cells {MEM_SC}]\n"
            + _cell("proc_sys_reset", RESET))


def connections_tcl(board: Board, weights: int) -> str:
    """Every net: AXI paths (DDR master i on the memory SmartConnect's S<i>_AXI), one clock net, the reset tree,
    the interrupt."""
    ps = FAMILIES[board.family]
    return (_intf(f"{PS}/{ps.master}", f"{CTRL_SC}/S00_AXI") + _intf(f"{CTRL_SC}/M00_AXI", f"{SHELL}/s_axi_control")
            + "".join(_intf(f"{SHELL}/{m}", f"{MEM_SC}/S{i:02d}_AXI") for i, m in enumerate(masters(weights)))
            + _intf(f"{MEM_SC}/M00_AXI", f"{PS}/{ps.slave}")
            + "connect_bd_net " + _pins(f"{PS}/{ps.clock}", f"{PS}/{ps.master_clock}", f"{PS}/{ps.slave_clock}",
                                        f"{CTRL_SC}/aclk", f"{MEM_SC}/aclk", f"{RESET}/slowest_sync_clk",
                                        f"{SHELL}/ap_clk") + "\n"
            + "connect_bd_net " + _pins(f"{PS}/{ps.reset}", f"{RESET}/ext_reset_in") + "\n"
            + "connect_bd_net " + _pins(f"{RESET}/interconnect_aresetn", f"{CTRL_SC}/aresetn",
                                        f"{MEM_SC}/aresetn") + "\n"
            + "connect_bd_net " + _pins(f"{RESET}/peripheral_aresetn", f"{SHELL}/ap_rst_n") + "\n"
            + "connect_bd_net " + _pins(f"{SHELL}/interrupt", f"{PS}/{ps.irq}") + "\n")


def block_design_tcl(board: Board, weights: int = 0) -> str:
    """The whole block design of `board`'s family, validated and saved, for a shell with `weights` weight masters."""
    return (f"# the PYNQ overlay's block design for {board.name} ({FAMILIES[board.family].ip}), generated by xnorflow\n"
            f"create_bd_design {BD_NAME}\n" + ps_tcl(board) + interconnect_tcl(weights)
            + connections_tcl(board, weights)
            + "assign_bd_address\nvalidate_bd_design\nsave_bd_design\n")
