"""`xnorflow demo` end to end at one epoch per step: every check line, each stage timed, the RTL generated once,
the Verilator model compiled in the background while training, and a last line that names --synth."""
from __future__ import annotations

import re

import pytest

from xnorflow.cli import main


@pytest.mark.slow
def test_demo_lines(tmp_path, monkeypatch, capsys):
    """The demo's lines: three exact arrows, bit-exact simulation, identical predictions through the whole shell,
    cycles against the bound."""
    from xnorflow.hw import accelerator
    calls = []
    generate = accelerator.generate_rtl
    monkeypatch.setattr(accelerator, "generate_rtl", lambda *args: calls.append(args) or generate(*args))
    monkeypatch.setenv("XNORFLOW_CACHE", str(tmp_path / "cache"))
    assert main(["demo", "--epochs", "1", "--out", str(tmp_path / "demo")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(calls) == 1
    assert len([ln for ln in lines if ln.startswith("[verify]") and ln.endswith(" ok")]) == 3
    assert any("bit-exact on 8 frames" in ln for ln in lines)
    assert any("predictions identical: True; max |logit diff| 0; one run of 360 frames from DDR to DDR" in ln
               for ln in lines)
    assert any(re.search(r"cycles/frame vs analytical bound \d+ \(ratio 1\.0", ln) for ln in lines)
    assert any("Verilator model of the whole design taken from the cache" in ln for ln in lines)
    timed = [ln for ln in lines if re.search(r"\(\d+\.\d s wall, \d+\.\d s CPU\)", ln)]
    assert {ln.split()[0] for ln in timed} >= {"[train]", "[build]", "[verify]", "[rtl]", "[sim]", "[shell]", "[done]"}
    assert "xnorflow demo --synth" in lines[-1] and lines[-1].startswith("[done]")
