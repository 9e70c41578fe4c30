"""What the PYNQ overlay's block design must connect, checked on what the Vivado stub recorded (shared by the
flow-script tests and the bitfile target's test on a generated build)."""
from __future__ import annotations

from pathlib import Path

from vivado_stub import VivadoStub

from xnorflow.hw.boards import Board
from xnorflow.hw.vivado_bd import FAMILIES


def check_design(stub: VivadoStub, b: Board, weights: int = 0) -> None:
    """Every connection the overlay needs, as the stub recorded it."""
    ps, fam = stub.ps(), FAMILIES[b.family]
    assert ps.ip == fam.ip and stub.part == b.part
    assert stub.cells["xnorflow_shell"].module == "xnorflow_shell_ref"
    data_width = "PCW_S_AXI_HP0_DATA_WIDTH" if b.family == "zynq" else "PSU__SAXIGP2__DATA_WIDTH"
    assert ps.config[data_width] == str(b.axi_bits)
    assert stub.clock_mhz() == b.clock_mhz
    # register file behind the GP master, every shell DDR master onto HP0, as the address map saw them
    assert stub.address_map.get(f"/ps/{fam.master}") == ["/xnorflow_shell/s_axi_control"]
    assert stub.address_map.get("/xnorflow_shell/m_axi_gmem") == [f"/ps/{fam.slave}"]
    for k in range(weights):
        assert stub.address_map.get(f"/xnorflow_shell/m_axi_wmem{k}") == [f"/ps/{fam.slave}"]
    assert stub.cells["mem_sc"].config["NUM_SI"] == str(1 + weights)
    clock = stub.net_of(f"/ps/{fam.clock}")
    assert {"/xnorflow_shell/ap_clk", f"/ps/{fam.master_clock}", f"/ps/{fam.slave_clock}", "/ctrl_sc/aclk",
            "/mem_sc/aclk", "/rst/slowest_sync_clk"} <= clock
    assert stub.net_of(f"/ps/{fam.reset}") == {f"/ps/{fam.reset}", "/rst/ext_reset_in"}
    assert stub.net_of("/xnorflow_shell/ap_rst_n") == {"/rst/peripheral_aresetn", "/xnorflow_shell/ap_rst_n"}
    assert {"/ctrl_sc/aresetn", "/mem_sc/aresetn"} <= stub.net_of("/rst/interconnect_aresetn")
    assert stub.net_of("/xnorflow_shell/interrupt") == {"/xnorflow_shell/interrupt", f"/ps/{fam.irq}"}
    order = [c[0] for c in stub.calls]
    assert order.index("assign_bd_address") > max(i for i, c in enumerate(order) if c.startswith("connect_bd"))
    assert stub.validated and stub.wrapped and stub.top == "xnorflow_bd_wrapper"
    assert "-to_step" in stub.runs["impl_1"] and "write_bitstream" in stub.runs["impl_1"]


def check_outputs(out: Path) -> None:
    """Bitstream and hardware handoff under one base name, and both reports."""
    for name in ("xnorflow.bit", "xnorflow.hwh", "utilization.rpt", "timing.rpt"):
        assert (out / "out" / name).stat().st_size > 0, name
    assert "<EDKSYSTEM>" in (out / "out" / "xnorflow.hwh").read_text()
