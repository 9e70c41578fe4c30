"""What the PYNQ overlay's block design must connect, checked on what the Vivado stub recorded (shared by the
flow-script tests and the bitfile target's test on a generated build)."""
from __future__ import annotations

from pathlib import Path

from vivado_stub import VivadoStub

from xnorflow.hw.boards import Board
from xnorflow.hw.vivado_bd import FAMILIES, mem_sc


def check_design(stub: VivadoStub, b: Board, on: dict[int, list[str]] | None = None) -> None:
    """Every connection the overlay needs, as the stub recorded it; `on`: HP port -> the shell's masters that
    must reach it (default: m_axi_gmem alone on HP0)."""
    on = on or {0: ["m_axi_gmem"]}
    ps, fam = stub.ps(), FAMILIES[b.family]
    assert ps.ip == fam.ip and stub.part == b.part
    assert stub.cells["xnorflow_shell"].module == "xnorflow_shell_ref"
    assert stub.clock_mhz() == b.clock_mhz
    # exactly the used HP ports enabled, at the shell's width
    assert {p for p, k in ps.pins().items() if k == "slave"} == {fam.slave(n) for n in on}
    for n in on:
        width = f"PCW_S_AXI_HP{n}_DATA_WIDTH" if b.family == "zynq" else f"PSU__SAXIGP{n + 2}__DATA_WIDTH"
        assert ps.config[width] == str(b.axi_bits)
    # register file behind the GP master, each shell DDR master onto its HP port, as the address map saw them
    assert stub.address_map.get(f"/ps/{fam.master}") == ["/xnorflow_shell/s_axi_control"]
    shell_masters = sorted(p for p, k in stub.cells["xnorflow_shell"].pins().items() if k == "master")
    assert shell_masters == sorted(m for ms in on.values() for m in ms)
    for n, ms in on.items():
        for m in ms:
            assert stub.address_map.get(f"/xnorflow_shell/{m}") == [f"/ps/{fam.slave(n)}"], m
        assert stub.cells[mem_sc(n)].config["NUM_SI"] == str(len(ms))
    clock = stub.net_of(f"/ps/{fam.clock}")
    assert {"/xnorflow_shell/ap_clk", f"/ps/{fam.master_clock}", "/ctrl_sc/aclk", "/rst/slowest_sync_clk",
            *(f"/ps/{fam.slave_clock(n)}" for n in on), *(f"/{mem_sc(n)}/aclk" for n in on)} <= clock
    assert stub.net_of(f"/ps/{fam.reset}") == {f"/ps/{fam.reset}", "/rst/ext_reset_in"}
    assert stub.net_of("/xnorflow_shell/ap_rst_n") == {"/rst/peripheral_aresetn", "/xnorflow_shell/ap_rst_n"}
    assert {"/ctrl_sc/aresetn", *(f"/{mem_sc(n)}/aresetn" for n in on)} <= stub.net_of("/rst/interconnect_aresetn")
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
