"""The block design of the PYNQ overlay, as Vivado IP Integrator Tcl: PS, shell, interconnects, clock, reset, IRQ.

One design per board family: the Zynq-7000 PS (`processing_system7`: FCLK_CLK0, M_AXI_GP0, S_AXI_HP0..3,
IRQ_F2P) or the Zynq UltraScale+ PS (`zynq_ultra_ps_e`: pl_clk0, M_AXI_HPM0_FPD, S_AXI_HP0..3_FPD, which its
properties call S_AXI_GP2..5, pl_ps_irq0). The shell is a module reference to its Verilog wrapper
(hw/vivado_wrapper.py); Vivado infers its AXI interfaces from the port names (`s_axi_control_*`,
`m_axi_gmem_*`, `m_axi_wmem<k>_*`), its clock `ap_clk`, active-low reset `ap_rst_n` and `interrupt`. The PS's
PL clock runs everything at the board's clock; a proc_sys_reset synchronises the PS reset to it. The register
file sits behind a SmartConnect on the PS's general-purpose master.

The shell's DDR masters are spread over the PS's high-performance slave ports (UG585 ch. 5, UG1085 ch. 35: four
HP ports, each with its own FIFOs into the DDR controller, so bandwidth adds up to the DDR's): the frame DMA
(m_axi_gmem, input read and output write) stays on HP0; the weight masters go largest first (bytes per frame,
design.json's shell.weights strides) onto the least loaded port, where HP0 starts with the input DMA's bytes
per frame (the output's writes use the port's separate write channels) and ties go to HP1, HP2, HP3, then HP0.
With equal weight bytes and no input bytes this is weight master k on HP (1 + k) mod 4. Each used port has its
own SmartConnect at the shell's data width (64 bits on Zynq-7000, 128 on UltraScale+; PG247: round-robin
arbitration, and the AXI4 -> AXI3 conversion Zynq-7000's HP ports need, so a port with one master has one too),
is enabled on the PS, clocked by the PL clock and mapped onto its DDR segment by assign_bd_address.
The interrupt goes straight to the PS's fabric IRQ line.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xnorflow.hw.boards import Board
from xnorflow.hw.shell import hp_ports_of, wmem
from xnorflow.hw.vivado_wrapper import REF, masters

BD_NAME = "xnorflow_bd"
SHELL = "xnorflow_shell"  # the cell name: PYNQ's ip_dict key of the register file
PS = "ps"
CTRL_SC = "ctrl_sc"
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
    hp: str                 # high-performance AXI slave n (DDR, for the shell's masters), {n} the port
    hp_clock: str
    irq: str                # fabric interrupt in
    freq_property: str      # requested PL clock frequency in MHz

    def slave(self, n: int) -> str:
        """HP slave port n."""
        return self.hp.format(n=n)

    def slave_clock(self, n: int) -> str:
        """The clock input of HP slave port n."""
        return self.hp_clock.format(n=n)

    def slave_config(self, n: int, bits: int) -> dict[str, str]:
        """CONFIG.* properties that enable HP port n at `bits` (UltraScale+ numbers S_AXI_HP<n>_FPD as GP<n + 2>)."""
        if self.ip == "processing_system7":
            return {f"PCW_USE_S_AXI_HP{n}": "1", f"PCW_S_AXI_HP{n}_DATA_WIDTH": str(bits)}
        return {f"PSU__USE__S_AXI_GP{n + 2}": "1", f"PSU__SAXIGP{n + 2}__DATA_WIDTH": str(bits)}

    def config(self, board: Board, ports: Sequence[int]) -> dict[str, str]:
        """CONFIG.* properties that enable the ports above (HP `ports`) at the board's clock and data width."""
        slaves = {k: v for n in ports for k, v in self.slave_config(n, board.axi_bits).items()}
        if self.ip == "processing_system7":
            return {"PCW_USE_M_AXI_GP0": "1", **slaves, "PCW_EN_CLK0_PORT": "1",
                    "PCW_EN_RST0_PORT": "1", self.freq_property: _mhz(board.clock_mhz),
                    "PCW_USE_FABRIC_INTERRUPT": "1", "PCW_IRQ_F2P_INTR": "1"}
        return {"PSU__USE__M_AXI_GP0": "1", "PSU__USE__M_AXI_GP1": "0", "PSU__USE__M_AXI_GP2": "0", **slaves,
                "PSU__FPGA_PL0_ENABLE": "1", "PSU__OVERRIDE__BASIC_CLOCK": "0",
                self.freq_property: _mhz(board.clock_mhz), "PSU__USE__IRQ0": "1"}


FAMILIES = {
    "zynq": PsPorts("processing_system7", "xilinx.com:bd_rule:processing_system7", "FCLK_CLK0", "FCLK_RESET0_N",
                    "M_AXI_GP0", "M_AXI_GP0_ACLK", "S_AXI_HP{n}", "S_AXI_HP{n}_ACLK", "IRQ_F2P",
                    "PCW_FPGA0_PERIPHERAL_FREQMHZ"),
    "zynquplus": PsPorts("zynq_ultra_ps_e", "xilinx.com:bd_rule:zynq_ultra_ps_e", "pl_clk0", "pl_resetn0",
                         "M_AXI_HPM0_FPD", "maxihpm0_fpd_aclk", "S_AXI_HP{n}_FPD", "saxihp{n}_fpd_aclk", "pl_ps_irq0",
                         "PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"),
}
def spread(weight_bytes: Sequence[int], input_bytes: int, ports: int) -> dict[int, list[str]]:
    """Used HP port -> the shell's masters on it: m_axi_gmem on HP0, each weight master on its port by
    hw/shell.py hp_ports_of (largest bytes per frame first onto the least loaded port)."""
    on = {0: masters(0)}
    for k, n in enumerate(hp_ports_of(weight_bytes, input_bytes, ports)):
        on.setdefault(n, []).append(wmem(k))
    return {n: sorted(on[n], key=masters(len(weight_bytes)).index) for n in sorted(on)}


def mem_sc(n: int) -> str:
    """The SmartConnect cell in front of HP port n (HP0's keeps the name of the one-port design)."""
    return "mem_sc" if n == 0 else f"mem_sc{n}"


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


def ps_tcl(board: Board, ports: Sequence[int]) -> str:
    """The PS: its board preset (when the board's files are installed), DDR/FIXED_IO, ports and clock."""
    ps = FAMILIES[board.family]
    automation = ("[list make_external {FIXED_IO, DDR} apply_board_preset $preset Master Disable Slave Disable]"
                  if board.family == "zynq" else "[list apply_board_preset $preset]")
    return (_cell(ps.ip, PS)
            + "set preset [expr {[get_property BOARD_PART [current_project]] ne \"\" ? 1 : 0}]\n"
            + f"apply_bd_automation -rule {ps.rule} -config {automation} [get_bd_cells {PS}]\n"
            + f"set_property -dict {_dict(ps.config(board, ports))} [get_bd_cells {PS}]\n")


def interconnect_tcl(on: dict[int, list[str]]) -> str:
    """The shell and the SmartConnects: PS master -> register file, and one per used HP port for its masters."""
    return (f"create_bd_cell -type module -reference {REF} {SHELL}\n"
            + _cell("smartconnect", CTRL_SC)
            + f"set_property -dict [list CONFIG.NUM_SI {{1}} CONFIG.NUM_MI {{1}}] [get_bd_cells {CTRL_SC}]\n"
            + "".join(_cell("smartconnect", mem_sc(n))
                      + f"set_property -dict [list CONFIG.NUM_SI {{{len(ms)}}} CONFIG.NUM_MI {{1}}] "
                      f"[get_bd_cells {mem_sc(n)}]\n" for n, ms in on.items())
            + _cell("proc_sys_reset", RESET))


def connections_tcl(board: Board, on: dict[int, list[str]]) -> str:
    """Every net: AXI paths (the i-th master of HP port n on its SmartConnect's S<i>_AXI), one clock net, the
    reset tree, the interrupt."""
    ps, scs = FAMILIES[board.family], [mem_sc(n) for n in on]
    return (_intf(f"{PS}/{ps.master}", f"{CTRL_SC}/S00_AXI") + _intf(f"{CTRL_SC}/M00_AXI", f"{SHELL}/s_axi_control")
            + "".join(_intf(f"{SHELL}/{m}", f"{mem_sc(n)}/S{i:02d}_AXI")
                      for n, ms in on.items() for i, m in enumerate(ms))
            + "".join(_intf(f"{mem_sc(n)}/M00_AXI", f"{PS}/{ps.slave(n)}") for n in on)
            + "connect_bd_net " + _pins(f"{PS}/{ps.clock}", f"{PS}/{ps.master_clock}",
                                        *(f"{PS}/{ps.slave_clock(n)}" for n in on), f"{CTRL_SC}/aclk",
                                        *(f"{sc}/aclk" for sc in scs), f"{RESET}/slowest_sync_clk",
                                        f"{SHELL}/ap_clk") + "\n"
            + "connect_bd_net " + _pins(f"{PS}/{ps.reset}", f"{RESET}/ext_reset_in") + "\n"
            + "connect_bd_net " + _pins(f"{RESET}/interconnect_aresetn", f"{CTRL_SC}/aresetn",
                                        *(f"{sc}/aresetn" for sc in scs)) + "\n"
            + "connect_bd_net " + _pins(f"{RESET}/peripheral_aresetn", f"{SHELL}/ap_rst_n") + "\n"
            + "connect_bd_net " + _pins(f"{SHELL}/interrupt", f"{PS}/{ps.irq}") + "\n")


def block_design_tcl(board: Board, weight_bytes: Sequence[int] = (), input_bytes: int = 0) -> str:
    """The whole block design of `board`'s family, validated and saved, for a shell with one weight master per
    entry of `weight_bytes` (its bytes per frame) and an input DMA reading `input_bytes` per frame."""
    on = spread(weight_bytes, input_bytes, board.hp_ports)
    return (f"# the PYNQ overlay's block design for {board.name} ({FAMILIES[board.family].ip}), generated by xnorflow\n"
            f"create_bd_design {BD_NAME}\n" + ps_tcl(board, list(on)) + interconnect_tcl(on)
            + connections_tcl(board, on)
            + "assign_bd_address\nvalidate_bd_design\nsave_bd_design\n")
