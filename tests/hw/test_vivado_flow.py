"""The bitfile step around Vivado, with a fake `vivado` on PATH (tests/hw/vivado_stub.py run as a program:
it evaluates the flow script with the recording stubs and writes Vivado-format reports and a bitstream).
Success publishes bitfile/xnorflow.bit + .hwh and report.json's figures; a failing Vivado and a missed timing
are one line each (the log's first ERROR line; the worst path and its slack) with no bitfile; without
Vivado the step stops in seconds after writing vivado/, naming what to install and the command."""
from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from xnorflow.errors import FlowStopped, XnorflowError
from xnorflow.hw.accelerator import build_target, cached_synth
from xnorflow.hw.resources import memory_verdict
from xnorflow.hw.boards import BOARDS
from xnorflow.hw.vivado import SCRIPT, bitfile_flow, vivado_executable

sys.path.insert(0, str(Path(__file__).parent))
from shell_build import make_build  # noqa: E402

pytestmark = pytest.mark.fast
STUB = Path(__file__).parent / "vivado_stub.py"


@pytest.fixture
def fake_vivado(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `vivado` executable first on PATH that runs the stub."""
    exe = tmp_path / "bin" / "vivado"
    exe.parent.mkdir()
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STUB}" "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("FAKE_VIVADO_WNS", raising=False)
    monkeypatch.delenv("FAKE_VIVADO_WHS", raising=False)
    monkeypatch.delenv("FAKE_VIVADO_FAIL", raising=False)
    assert vivado_executable() == str(exe)
    return exe


def _build(tmp_path: Path, name: str = "Pynq-Z2") -> Path:
    b = BOARDS[name]
    return make_build(tmp_path / "build", b.axi_bits, b.addr_bits)


@pytest.mark.parametrize("name", ["Pynq-Z2", "KV260"])
def test_vivado_publishes_the_bitfile(tmp_path: Path, fake_vivado: Path, name: str,
                                      capsys: pytest.CaptureFixture) -> None:
    build = _build(tmp_path, name)
    section, stop = bitfile_flow(build, BOARDS[name])
    assert stop is None and section["status"] == "published"
    assert f"log: {build / 'vivado' / 'vivado.log'}" in capsys.readouterr().out
    bit, hwh = build / "bitfile" / "xnorflow.bit", build / "bitfile" / "xnorflow.hwh"
    assert bit.read_bytes() == (build / "vivado" / "out" / "xnorflow.bit").read_bytes() and bit.stat().st_size > 0
    assert "<EDKSYSTEM>" in hwh.read_text()
    assert section["bitfile"] == "bitfile/xnorflow.bit" and section["hwh"] == "bitfile/xnorflow.hwh"
    assert section["utilization"]["lut"] == {"used": 9876.0, "available": 53200}
    assert section["utilization"]["bram36"]["used"] == 12.5 and section["utilization"]["dsp"]["used"] == 3.0
    assert section["timing"]["wns_ns"] == 1.234 and section["timing"]["worst_path"]["slack_ns"] == 1.234
    assert "Exiting Vivado" in (build / section["log"]).read_text()
    assert not [p for p in build.iterdir() if p.name.startswith(".bitfile")]


def test_a_failing_vivado_is_one_line_naming_the_log(tmp_path: Path, fake_vivado: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    build = _build(tmp_path)
    (build / "bitfile").mkdir()
    (build / "bitfile" / "xnorflow.bit").write_bytes(b"an earlier run's bitstream")
    monkeypatch.setenv("FAKE_VIVADO_FAIL", "synth_1")
    section, stop = bitfile_flow(build, BOARDS["Pynq-Z2"], previous=tmp_path / "final")
    assert section["status"] == "vivado failed" and isinstance(stop, FlowStopped)
    assert str(stop) == (f"Vivado failed (exit code 1): ERROR: [Synth 8-439] module 'xnorflow_shell' not found; "
                         f"see {tmp_path / 'final' / 'vivado' / 'vivado.log'}; no bitfile was published")
    assert not (build / "bitfile").exists()


def test_missed_timing_names_the_worst_path(tmp_path: Path, fake_vivado: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    build = _build(tmp_path, "ZCU104")
    monkeypatch.setenv("FAKE_VIVADO_WNS", "-0.512")
    section, stop = bitfile_flow(build, BOARDS["ZCU104"])
    assert section["status"] == "timing not met" and section["timing"]["wns_ns"] == -0.512
    assert "\n" not in str(stop)
    assert str(stop).startswith("timing not met at 200 MHz: worst setup slack -0.512 ns (3 failing endpoints) on "
                                "xnorflow_bd_i/xnorflow_shell/inst/core/MVAU_hls_0/acc_reg[11]/C -> "
                                "xnorflow_bd_i/xnorflow_shell/inst/core/MVAU_hls_0/out_reg[3]/D; see ")
    assert (build / "vivado" / "out" / "xnorflow.bit").is_file() and not (build / "bitfile").exists()


def test_missed_hold_timing_stops_too(tmp_path: Path, fake_vivado: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = _build(tmp_path)
    monkeypatch.setenv("FAKE_VIVADO_WHS", "-0.034")
    section, stop = bitfile_flow(build, BOARDS["Pynq-Z2"])
    assert section["status"] == "timing not met" and section["timing"]["whs_ns"] == -0.034
    assert str(stop).startswith("timing not met at 100 MHz: worst hold slack -0.034 ns; see ")
    assert not (build / "bitfile").exists()


def test_without_vivado_it_writes_the_project_and_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("XILINX_VIVADO", raising=False)
    build = _build(tmp_path)
    section, stop = bitfile_flow(build, BOARDS["Pynq-Z2"], previous=tmp_path / "final")
    assert section["status"] == "vivado missing" and "\n" not in str(stop)
    assert str(stop).startswith("Vivado is not installed")
    assert "install Vivado 2022.2 or newer with xc7z020clg400-1 device support" in str(stop)
    assert "rerun the same build command with --target bitfile: it runs Vivado, checks timing" in str(stop)
    for name in (SCRIPT, "block_design.tcl", "src/xnorflow_shell_ref.v", "src/xnorflow_shell.sv",
                 "src/xnorflow_top.sv", "src/MVAU_0_weights.mem"):
        assert (build / "vivado" / name).is_file(), name
    assert not (build / "bitfile").exists()


def test_a_build_without_shell_is_refused(tmp_path: Path) -> None:
    b = BOARDS["Pynq-Z2"]
    build = make_build(tmp_path / "build", b.axi_bits, b.addr_bits, shell=False)
    with pytest.raises(XnorflowError, match="has no PYNQ shell.*regenerate the RTL"):
        bitfile_flow(build, b)


def test_synthesis_report_is_reused_for_the_same_rtl(tmp_path: Path) -> None:
    """--target synth again: the synth section of the same RTL inputs (here or in the earlier build)."""
    class Built:
        path, inputs = tmp_path / "new", "key-1"
    Built.path.mkdir()
    old = tmp_path / "old"
    old.mkdir()
    (old / "report.json").write_text(json.dumps({"synth": {"fits": True, "inputs": "key-1"}}))
    assert cached_synth(Built, None) is None
    assert cached_synth(Built, old) == {"fits": True, "inputs": "key-1"}
    Built.inputs = "key-2"
    assert cached_synth(Built, old) is None


def test_an_unchanged_project_reuses_the_earlier_bitfile(tmp_path: Path, fake_vivado: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Rebuilding the same output: the earlier build's bitfile of the very same project is taken, Vivado does not
    run (here it would fail); a changed source runs it again."""
    b = BOARDS["Pynq-Z2"]
    earlier = make_build(tmp_path / "earlier", b.axi_bits, b.addr_bits)
    section, _ = bitfile_flow(earlier, b)
    (earlier / "report.json").write_text(json.dumps({"bitfile": section}))
    monkeypatch.setenv("FAKE_VIVADO_FAIL", "synth_1")
    again = make_build(tmp_path / "again", b.axi_bits, b.addr_bits)
    reused, stop = bitfile_flow(again, b, previous=earlier)
    assert stop is None and reused == section
    assert (again / "bitfile" / "xnorflow.bit").read_bytes() == (earlier / "bitfile" / "xnorflow.bit").read_bytes()
    assert (again / "vivado" / "out" / "timing.rpt").is_file() and (again / "vivado" / "vivado.log").is_file()
    changed = make_build(tmp_path / "changed", b.axi_bits, b.addr_bits)
    (changed / "rtl" / "MVAU_0_weights.mem").write_text("f0\n")
    section, stop = bitfile_flow(changed, b, previous=earlier)
    assert section["status"] == "vivado failed" and not (changed / "bitfile").exists()


def test_a_design_over_the_on_chip_memory_stops_before_any_rtl(tmp_path: Path) -> None:
    """Thresholds beyond a Pynq-Z2's on-chip memory: the synth and bitfile targets stop in one line before
    generating RTL; weights alone never stop them (they may stream from DDR)."""
    build = tmp_path / "b"
    build.mkdir()
    (build / "report.json").write_text(json.dumps({"weight_memory_bits": 29_000_000, "threshold_memory_bits": 9_000_000,
                                                   "requantizer_memory_bits": 300_000}))
    for target in ("synth", "bitfile"):
        with pytest.raises(FlowStopped, match=r"does not fit Pynq-Z2: its thresholds and tables need 9.3 Mbit on "
                                              r"chip, more than the 8.6 Mbit .*; use a larger board"):
            build_target(build, target, "Pynq-Z2")
    assert not (build / "rtl").exists()
    assert memory_verdict(1_251_576, BOARDS["Pynq-Z2"]) is None
