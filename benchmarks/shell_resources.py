"""LUT/FF/BRAM of the PYNQ shell alone (register file, read/write DMAs, width converters, frame trim/pad) on
xc7z020 with 64-bit AXI, Yosys synth_xilinx; the dataflow core is an empty black box, so it counts nothing.

The ports are those of the tiny registry models (8-bit input words, 64 per frame; ten 32-bit logits out).
Target: under 3% of the xc7z020's 53,200 LUTs. Also the shell with two weight streams from DDR (64-bit weight words,
e.g. SIMD x PE = 64 binary weights, 576 per frame): what each DDR-resident layer adds (its AXI master's read DMA
with prefetch FIFO, width converter, trim and registers).
"""
import tempfile
from dataclasses import replace
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


W_PORTS = 2
W_PORT = Port(Stream("w_V", 64), DataType["BINARY"], (1, 576, 64), (576, 64))


def core_black_box(s: ShellSpec) -> str:
    """The core's ports with no body: Yosys keeps it as one uncounted cell."""
    weights = "".join(f"    input logic [{w.bits - 1}:0] {w.port}_TDATA, input logic {w.port}_TVALID, "
                      f"output logic {w.port}_TREADY,\n" for w in s.weights)
    return (f"module {TOP} (input logic ap_clk, input logic ap_rst_n,\n"
            f"    input logic [{s.in_bits - 1}:0] in0_V_TDATA, input logic in0_V_TVALID, output logic in0_V_TREADY,\n"
            + weights +
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
    w_ports = tuple(replace(W_PORT, stream=Stream(f"w{k}_V", W_PORT.stream.bits)) for k in range(W_PORTS))
    sw = shell_spec(IN_PORT, OUT_PORT, b, "0" * 64, w_ports)
    with_weights = shell_alone(sw)
    per_port = {k: (with_weights[k] - counts[k]) / W_PORTS for k in counts}
    print(f"shell: {luts} LUT, {counts['ff']} FF; with {W_PORTS} weight streams {yosys_luts(with_weights)} LUT, "
          f"{with_weights['ff']} FF: {yosys_luts(per_port):.0f} LUT ({per_port['lutram']:.0f} LUT RAM), "
          f"{per_port['ff']:.0f} FF per DDR-resident layer")
    record("shell_resources", {
        "board": b.name, "part": b.part, "axi_bits": s.axi_bits, "addr_bits": s.addr_bits, "max_burst": s.max_burst,
        "in": s.inp.entry(), "out": s.out.entry(), "shell": counts,
        "lut_share": round(luts / b.lut, 4), "ff_share": round(counts["ff"] / b.ff, 4),
        "bram36_equiv": bram36(counts), "target_lut_share": TARGET_SHARE,
        "meets_target": luts < TARGET_SHARE * b.lut, "weight_ports": W_PORTS,
        "weight_stream": {"bits": W_PORT.stream.bits, **sw.weights[0].layout.entry()},
        "shell_with_weights": with_weights, "per_weight_port": per_port})


if __name__ == "__main__":
    main()
