"""LUT/FF/BRAM of the PYNQ shell alone (register file, read/write DMAs, width converters, frame trim/pad) on
xc7z020 with 64-bit AXI, Yosys synth_xilinx; the dataflow core is an empty black box, so it counts nothing.

The ports are those of the tiny registry models (8-bit input words, 64 per frame; ten 32-bit logits out).
Target: under 3% of the xc7z020's 53,200 LUTs.
"""
import tempfile
from pathlib import Path

from common import record, yosys_luts
from qonnx.core.datatype import DataType

from xnorflow.hw.boards import board
from xnorflow.hw.resources import bram36
from xnorflow.hw.ops.common import Port, sources
from xnorflow.hw.shell import SHELL_MODULES, SHELL_TOP, ShellSpec, shell_spec, shell_text
from xnorflow.hw.stitch import TOP
from xnorflow.hw.synth import synthesize
from xnorflow.hw.verilator import Stream

BOARD = "Pynq-Z2"
TARGET_SHARE = 0.03
IN_PORT = Port(Stream("in0_V", 8), DataType["INT8"], (1, 8, 8, 1, 1), (1, 8, 8, 1))
OUT_PORT = Port(Stream("out0_V", 32), DataType["INT32"], (1, 10, 1), (1, 10))


def core_black_box(s: ShellSpec) -> str:
    """The core's ports with no body: Yosys keeps it as one uncounted cell."""
    return (f"module {TOP} (input logic ap_clk, input logic ap_rst_n,\n"
            f"    input logic [{s.in_bits - 1}:0] in0_V_TDATA, input logic in0_V_TVALID, output logic in0_V_TREADY,\n"
            f"    output logic [{s.out_bits - 1}:0] out0_V_TDATA, output logic out0_V_TVALID,\n"
            "    input logic out0_V_TREADY);\nendmodule\n")


def shell_alone(s: ShellSpec) -> dict:
    """Yosys counts of the generated shell around a black-box core."""
    with tempfile.TemporaryDirectory(prefix="xf-shell-") as tmp:
        core, top = Path(tmp) / f"{TOP}.sv", Path(tmp) / f"{SHELL_TOP}.sv"
        core.write_text(core_black_box(s))
        top.write_text(shell_text(s))
        res = synthesize(SHELL_TOP, (*sources(*SHELL_MODULES), core, top), blackboxes=True)
    return {k: res[k] for k in ("lut", "lutram", "ff", "carry4", "ramb18", "ramb36", "dsp")}


def main() -> None:
    b = board(BOARD)
    s = shell_spec(IN_PORT, OUT_PORT, b, "0" * 64)
    counts = shell_alone(s)
    luts = yosys_luts(counts)
    record("shell_resources", {
        "board": b.name, "part": b.part, "axi_bits": s.axi_bits, "addr_bits": s.addr_bits, "max_burst": s.max_burst,
        "in": s.inp.entry(), "out": s.out.entry(), "shell": counts,
        "lut_share": round(luts / b.lut, 4), "ff_share": round(counts["ff"] / b.ff, 4),
        "bram36_equiv": bram36(counts), "target_lut_share": TARGET_SHARE,
        "meets_target": luts < TARGET_SHARE * b.lut})


if __name__ == "__main__":
    main()
