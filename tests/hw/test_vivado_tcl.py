"""The Vivado flow script of every board, evaluated in Tcl with Vivado's commands as recording stubs
(tests/hw/vivado_stub.py): it runs to the end, and the block design it builds connects the PS of the board's
family (GP master -> register file, the shell's DDR masters spread over the HP slaves), the PL clock at the
board's clock, the reset, the interrupt and the address map; synthesis, implementation to write_bitstream,
reports and the .hwh follow. Deleting any connecting line of the block design makes these checks fail. Also the
report parsers."""
from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
import tkinter
from pathlib import Path

import pytest

from xnorflow.errors import XnorflowError
from xnorflow.hw.boards import BOARDS, Board
from xnorflow.hw.vivado import BD_SCRIPT, SCRIPT, write_project
from xnorflow.hw.vivado_reports import timing, utilization

sys.path.insert(0, str(Path(__file__).parent))
from shell_build import make_build  # noqa: E402
from overlay_checks import check_design, check_outputs  # noqa: E402
from vivado_stub import VivadoStub, timing_report, utilization_report  # noqa: E402

pytestmark = pytest.mark.fast


def evaluate(tmp_path: Path, b: Board, weights: Sequence[int] = (), board_files: bool = True,
             edit=None, in_stride: int = 0) -> VivadoStub:
    """Write the board's Vivado project for a shell build (weight masters' bytes per frame `weights`), optionally
    edit block_design.tcl, evaluate it."""
    build = make_build(tmp_path / "build", b.axi_bits, b.addr_bits, weights, in_stride=in_stride)
    out = write_project(build, b)
    if edit is not None:
        (out / BD_SCRIPT).write_text(edit((out / BD_SCRIPT).read_text()))
    stub = VivadoStub(out, board_files=board_files)
    stub.run(out / SCRIPT)
    return stub


@pytest.mark.parametrize("name", list(BOARDS))
def test_flow_script_builds_the_overlay(tmp_path: Path, name: str) -> None:
    b = BOARDS[name]
    stub = evaluate(tmp_path, b)
    check_design(stub, b)
    check_outputs(tmp_path / "build" / "vivado")
    assert stub.props["project"]["BOARD_PART"].split(":")[1] in (name.lower(), "ultra96v2", "kv260_som")
    added = {p.name for p in stub.files}
    assert {"xnorflow_shell_ref.v", "xnorflow_shell.sv", "xnorflow_top.sv", "MVAU_0_weights.mem"} <= added


GMEM = "m_axi_gmem"


@pytest.mark.parametrize("name", ["Pynq-Z2", "KV260"])
def test_weight_masters_spread_over_the_hp_ports(tmp_path: Path, name: str) -> None:
    """Five weight masters: largest bytes per frame first onto the least loaded HP port, HP0 holding the frame DMA
    and its 1024 input bytes; all four ports used, each enabled, clocked, with its SmartConnect, every master
    mapped onto its port's DDR."""
    stub = evaluate(tmp_path, BOARDS[name], weights=(4096, 1024, 1024, 2048, 1024), in_stride=1024)
    check_design(stub, BOARDS[name], {0: [GMEM, "m_axi_wmem4"], 1: ["m_axi_wmem0"], 2: ["m_axi_wmem3"],
                                      3: ["m_axi_wmem1", "m_axi_wmem2"]})


def test_equal_weight_masters_go_round_the_ports(tmp_path: Path) -> None:
    """Equal bytes, no input bytes: weight master k on HP (1 + k) mod 4."""
    stub = evaluate(tmp_path, BOARDS["Pynq-Z2"], weights=(64,) * 5)
    check_design(stub, BOARDS["Pynq-Z2"], {0: [GMEM, "m_axi_wmem3"], 1: ["m_axi_wmem0", "m_axi_wmem4"],
                                           2: ["m_axi_wmem1"], 3: ["m_axi_wmem2"]})


@pytest.mark.parametrize("name", ["Pynq-Z2", "ZCU104"])
def test_one_weight_master_adds_hp1(tmp_path: Path, name: str) -> None:
    """One weight master: the design without weights plus HP1 (enabled, clocked) and its SmartConnect."""
    b = BOARDS[name]
    base, one = evaluate(tmp_path / "base", b), evaluate(tmp_path / "one", b, weights=(64,), in_stride=64)
    check_design(one, b, {0: [GMEM], 1: ["m_axi_wmem0"]})
    assert set(one.cells) == set(base.cells) | {"mem_sc1"}
    hp1 = "/ps/S_AXI_HP1" if b.family == "zynq" else "/ps/S_AXI_HP1_FPD"
    assert set(one.intf_nets) - set(base.intf_nets) == {("/xnorflow_shell/m_axi_wmem0", "/mem_sc1/S00_AXI"),
                                                        ("/mem_sc1/M00_AXI", hp1)}
    added = set(one.ps().config.items()) - set(base.ps().config.items())
    assert {k for k, _ in added} == ({"PCW_USE_S_AXI_HP1", "PCW_S_AXI_HP1_DATA_WIDTH"} if b.family == "zynq"
                                     else {"PSU__USE__S_AXI_GP3", "PSU__SAXIGP3__DATA_WIDTH"})


def test_without_board_files_the_part_alone(tmp_path: Path) -> None:
    """A Vivado without the board's files: no BOARD_PART, no preset applied, the design still complete."""
    stub = evaluate(tmp_path, BOARDS["Pynq-Z2"], board_files=False)
    assert "BOARD_PART" not in stub.props.get("project", {})
    assert "'apply_board_preset': '0'" in stub.props["ps"]["automation"]
    check_design(stub, BOARDS["Pynq-Z2"])


def _essential_lines(root: Path, b: Board, weights: Sequence[int]) -> list[str]:
    """The block-design lines that connect or enable something (each one's removal must be caught)."""
    out = write_project(make_build(root, b.axi_bits, b.addr_bits, weights), b)
    lines = (out / BD_SCRIPT).read_text().splitlines()
    return [line for line in lines if line.startswith(("connect_bd", "set_property", "assign_bd_address"))]


@pytest.mark.parametrize(("name", "weights", "on"), [
    ("Pynq-Z2", (), None), ("ZCU104", (), None),
    ("Pynq-Z2", (64,) * 5, {0: [GMEM, "m_axi_wmem3"], 1: ["m_axi_wmem0", "m_axi_wmem4"], 2: ["m_axi_wmem1"],
                            3: ["m_axi_wmem2"]})])
def test_every_connection_is_checked(tmp_path: Path, name: str, weights: tuple[int, ...], on) -> None:
    """Drop each connecting/enabling line of the block design: the run or the design checks fail."""
    b = BOARDS[name]
    lines = _essential_lines(tmp_path / "lines", b, weights)
    assert len(lines) >= 12
    for i, line in enumerate(lines):
        with pytest.raises((tkinter.TclError, AssertionError)), note(line):
            stub = evaluate(tmp_path / str(i), b, weights, edit=lambda text: text.replace(line + "\n", ""))
            check_design(stub, b, on)


@contextmanager
def note(line: str) -> Iterator[None]:
    """Name the dropped line when its removal went unnoticed."""
    try:
        yield
    except (tkinter.TclError, AssertionError):
        raise
    else:
        pytest.fail(f"dropping `{line}` went unnoticed")


def test_a_changed_clock_is_caught(tmp_path: Path) -> None:
    b = BOARDS["Ultra96"]
    with pytest.raises(AssertionError):
        check_design(evaluate(tmp_path, b, edit=lambda t: t.replace("FREQMHZ {200}", "FREQMHZ {100}")), b)


def test_utilization_report_of_either_family() -> None:
    for part in ("xc7z020clg400-1", "xczu3eg-sbva484-1-e"):
        use = utilization(utilization_report(part))
        assert use == {"lut": {"used": 9876.0, "available": 53200}, "ff": {"used": 12345.0, "available": 106400},
                       "bram36": {"used": 12.5, "available": 140}, "dsp": {"used": 3.0, "available": 220}}
    with pytest.raises(XnorflowError, match="no 'Slice LUTs' row"):
        utilization("| Site Type | Used | Available |\n| DSPs | 3 | 220 |\n")


def test_timing_report_names_the_worst_path() -> None:
    met = timing(timing_report("xc7z020clg400-1", 1.234))
    assert met["wns_ns"] == 1.234 and met["failing_endpoints"] == 0 and met["whs_ns"] == 0.021
    assert met["worst_path"]["slack_ns"] == 1.234
    missed = timing(timing_report("xczu7ev-ffvc1156-2-e", -0.512))
    assert missed["wns_ns"] == -0.512 and missed["tns_ns"] < 0 and missed["failing_endpoints"] == 3
    assert missed["worst_path"] == {"slack_ns": -0.512,
                                    "source": "xnorflow_bd_i/xnorflow_shell/inst/core/MVAU_hls_0/acc_reg[11]/C",
                                    "destination": "xnorflow_bd_i/xnorflow_shell/inst/core/MVAU_hls_0/out_reg[3]/D"}
    with pytest.raises(XnorflowError, match="no Design Timing Summary"):
        timing("Timing Summary Report\n")


def test_a_shell_without_a_contract_port_is_refused(tmp_path: Path) -> None:
    """The Verilog wrapper connects every port of the contract: a shell missing one fails like synthesis would."""
    b = BOARDS["Pynq-Z2"]
    build = make_build(tmp_path / "build", b.axi_bits, b.addr_bits)
    shell = build / "rtl" / "xnorflow_shell.sv"
    shell.write_text(shell.read_text().replace("  output logic m_axi_gmem_AWID,\n", ""))
    out = write_project(build, b)
    with pytest.raises(tkinter.TclError, match=r"Synth 8-448.*m_axi_gmem_AWID"):
        VivadoStub(out).run(out / SCRIPT)
