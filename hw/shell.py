"""The PYNQ shell: rtl/xnorflow_shell.sv, generated per build around the stitched top `xnorflow_top`.

The shell is what the programmable logic holds besides the dataflow core: an AXI4-Lite register file
(start, status, buffer addresses, frame count, run counters, build ID), an AXI4 read DMA that streams
input frames from DDR, an AXI4 write DMA that stores output frames, and between them and the core the
width conversion (AXI beats <-> byte-padded stream words) and the per-frame trim / zero padding of the DDR
layout. A frame in DDR is its stream words (little-endian, ceil(bits/8) bytes each, FINN's folded order)
then zero padding up to `stride` bytes: a multiple of lcm(word bytes, AXI bytes), so a frame is whole
beats and whole words. For each weight stream of the core (an MVAU with FINN's mem_mode "external": top port
w<k>_V), an AXI4 master `m_axi_wmem<k>` of its own reads the layer's weights, one "frame" of them laid out the
same way (WEIGHT_BYTES_k = its stride), from WEIGHT_ADDR_k once per frame of the run, through a prefetch FIFO of
MAX_OUT bursts (a burst is requested only when the FIFO has room for it, so the layer runs at max(compute, DDR
bandwidth) and never stalls the interconnect), a width converter and the trim of their padding. The register
map is in hw/rtl/axil_regfile.sv's header. All of it is our SystemVerilog, so Verilator simulates the whole
shell.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from xnorflow.errors import XnorflowError
from xnorflow.hw.boards import Board
from xnorflow.hw.ops.common import Port, sources
from xnorflow.hw.stitch import TOP
from xnorflow.hw.verilator import Design

SHELL_TOP = "xnorflow_shell"
SHELL_FILE = f"{SHELL_TOP}.sv"
# the shell's own modules, dependencies first (width_converter, stream_fifo and ram_sdp may also be the core's)
SHELL_MODULES = ("ram_sdp.sv", "stream_fifo.sv", "ram_fifo.sv", "width_converter.sv", "frame_trim.sv",
                 "frame_pad.sv", "axil_regfile.sv", "axi_dma_rd.sv", "axi_dma_wr.sv")
MAX_OUT = 4             # bursts in flight per DMA
MAX_WEIGHT_PORTS = 11   # weight streams the register map has room for (hw/rtl/axil_regfile.sv)


def max_burst(b: Board) -> int:
    """Beats per burst: 16 on Zynq-7000, whose HP ports are AXI3 (16 beats at most), 64 on UltraScale+."""
    return 16 if b.family == "zynq" else 64


@dataclass(frozen=True)
class FrameLayout:
    """One buffer's frames in DDR: bytes per stream word, words per frame, bytes per frame with padding."""

    word_bytes: int
    words_per_frame: int
    stride: int

    @property
    def stride_words(self) -> int:
        """Words per frame including the padding (the stride is a multiple of the word)."""
        return self.stride // self.word_bytes

    def beats(self, axi_bits: int) -> int:
        """AXI beats per frame."""
        return self.stride * 8 // axi_bits

    def entry(self) -> dict:
        """The manifest's entry for this buffer."""
        return {"word_bytes": self.word_bytes, "words_per_frame": self.words_per_frame, "stride": self.stride}


def frame_layout(port: Port, axi_bits: int) -> FrameLayout:
    """A port's frames in DDR: the stride rounds the frame up to a multiple of lcm(word bytes, AXI bytes)."""
    word = port.stream.nbytes
    unit = math.lcm(word, axi_bits // 8)
    return FrameLayout(word, port.words, -(-port.words * word // unit) * unit)


def build_id(inputs_key: str) -> int:
    """The 64-bit build ID of registers 0x08/0x0C: the first 16 hex digits of design.json's `inputs`."""
    return int(inputs_key[:16], 16)


@dataclass(frozen=True)
class WeightStream:
    """One weight stream the shell feeds the core: its top port (w<k>_V), TDATA width and frames in DDR."""

    port: str
    bits: int
    layout: FrameLayout

    def entry(self) -> dict:
        """design.json's entry of this weight stream: its port and DDR layout."""
        return {"port": self.port, **self.layout.entry()}


@dataclass(frozen=True)
class ShellSpec:
    """Everything the generated shell depends on."""

    axi_bits: int
    addr_bits: int
    max_burst: int
    build_id: int
    in_bits: int            # the core's input TDATA width
    out_bits: int           # the core's output TDATA width
    inp: FrameLayout
    out: FrameLayout
    weights: tuple[WeightStream, ...] = ()   # stream k is served by m_axi_wmem<k>


def shell_spec(in_port: Port, out_port: Port, b: Board, inputs_key: str,
               weight_ports: tuple[Port, ...] = ()) -> ShellSpec:
    """The shell of a stitched core with ports `in_port` / `out_port` and weight streams w0_V, w1_V, ... (in that
    order) on board `b`."""
    if len(weight_ports) > MAX_WEIGHT_PORTS:
        raise XnorflowError(f"{len(weight_ports)} layers stream their weights from DDR; the shell's register map "
                            f"serves at most {MAX_WEIGHT_PORTS}", "set mem_mode 'internal_decoupled' on "
                            f"{len(weight_ports) - MAX_WEIGHT_PORTS} of them (a coarser folding frees on-chip memory)")
    weights = tuple(WeightStream(p.stream.name, p.stream.bits, frame_layout(p, b.axi_bits)) for p in weight_ports)
    return ShellSpec(b.axi_bits, b.addr_bits, max_burst(b), build_id(inputs_key), in_port.stream.bits,
                     out_port.stream.bits, frame_layout(in_port, b.axi_bits), frame_layout(out_port, b.axi_bits),
                     weights)


def _axil_ports() -> str:
    """The AXI4-Lite slave's ports."""
    ins = [("7:0", "AWADDR"), ("", "AWVALID"), ("31:0", "WDATA"), ("3:0", "WSTRB"), ("", "WVALID"), ("", "BREADY"),
           ("7:0", "ARADDR"), ("", "ARVALID"), ("", "RREADY")]
    outs = [("", "AWREADY"), ("", "WREADY"), ("1:0", "BRESP"), ("", "BVALID"), ("", "ARREADY"), ("31:0", "RDATA"),
            ("1:0", "RRESP"), ("", "RVALID")]
    return _port_lines("s_axi_control", ins, outs)


def _axi_ports(s: ShellSpec) -> str:
    """The AXI4 master's ports (gmem: reads the input frames, writes the output frames)."""
    return _master_ports(s, "m_axi_gmem")


def _master_ports(s: ShellSpec, prefix: str) -> str:
    """One AXI4 master's ports, read and write channels."""
    a, d = f"{s.addr_bits - 1}:0", f"{s.axi_bits - 1}:0"
    outs = [("0:0", "AWID"), (a, "AWADDR"), ("7:0", "AWLEN"), ("2:0", "AWSIZE"), ("1:0", "AWBURST"),
            ("3:0", "AWCACHE"), ("2:0", "AWPROT"), ("", "AWVALID"), (d, "WDATA"), (f"{s.axi_bits // 8 - 1}:0", "WSTRB"),
            ("", "WLAST"), ("", "WVALID"), ("", "BREADY"), ("0:0", "ARID"), (a, "ARADDR"), ("7:0", "ARLEN"),
            ("2:0", "ARSIZE"), ("1:0", "ARBURST"), ("3:0", "ARCACHE"), ("2:0", "ARPROT"), ("", "ARVALID"),
            ("", "RREADY")]
    ins = [("", "AWREADY"), ("", "WREADY"), ("0:0", "BID"), ("1:0", "BRESP"), ("", "BVALID"), ("", "ARREADY"),
           ("0:0", "RID"), (d, "RDATA"), ("1:0", "RRESP"), ("", "RLAST"), ("", "RVALID")]
    return _port_lines(prefix, ins, outs)


def hp_ports_of(weight_bytes: Sequence[float], input_bytes: float, ports: int) -> list[int]:
    """The HP port of each weight master: largest bytes per frame first onto the least loaded port (HP0 also carries
    the input DMA's `input_bytes`; ties go to HP1, HP2, ..., HP0 last). The block design wires them so
    (hw/vivado_bd.py), and the board fit charges each DDR layer its port's load (hw/board_fit.py)."""
    load, port = [float(input_bytes)] + [0.0] * (ports - 1), [0] * len(weight_bytes)
    for k in sorted(range(len(weight_bytes)), key=lambda k: -weight_bytes[k]):
        port[k] = min(range(ports), key=lambda p: (load[p], (p - 1) % ports))
        load[port[k]] += weight_bytes[k]
    return port


def wmem(k: int) -> str:
    """The name of the AXI4 master that reads weight stream k."""
    return f"m_axi_wmem{k}"


def _wmem_ports(s: ShellSpec) -> str:
    """The weight masters' ports, one per weight stream (their write channels are tied off)."""
    if not s.weights:
        return ""
    return ("    /* verilator lint_off UNUSEDSIGNAL */  // the weight masters only read: write responses are ignored\n"
            + "".join(_master_ports(s, wmem(k)) for k in range(len(s.weights)))
            + "    /* verilator lint_on UNUSEDSIGNAL */\n")


def _port_lines(prefix: str, ins: list[tuple[str, str]], outs: list[tuple[str, str]]) -> str:
    """Port declarations `prefix`_NAME, inputs then outputs."""
    def line(direction: str, rng: str, name: str) -> str:
        return f"    {direction} logic {f'[{rng}] ' if rng else ''}{prefix}_{name},\n"
    return "".join(line("input ", r, n) for r, n in ins) + "".join(line("output", r, n) for r, n in outs)


def _connect(prefix: str, names: list[str], port_prefix: str = "m_axi") -> str:
    """`.port_prefix_NAME(prefix_NAME)` for each name."""
    return ", ".join(f".{port_prefix}_{n}({prefix}_{n})" for n in names)


AR_NAMES = ["ARID", "ARADDR", "ARLEN", "ARSIZE", "ARBURST", "ARCACHE", "ARPROT", "ARVALID", "ARREADY",
            "RID", "RDATA", "RRESP", "RLAST", "RVALID", "RREADY"]
AW_NAMES = ["AWID", "AWADDR", "AWLEN", "AWSIZE", "AWBURST", "AWCACHE", "AWPROT", "AWVALID", "AWREADY",
            "WDATA", "WSTRB", "WLAST", "WVALID", "WREADY", "BID", "BRESP", "BVALID", "BREADY"]
AXIL_NAMES = ["AWADDR", "AWVALID", "AWREADY", "WDATA", "WSTRB", "WVALID", "WREADY", "BRESP", "BVALID", "BREADY",
              "ARADDR", "ARVALID", "ARREADY", "RDATA", "RRESP", "RVALID", "RREADY"]


def _stream(name: str, bits: int) -> str:
    """Declarations of one AXI stream's wires."""
    return f"    logic [{bits - 1}:0] {name}_TDATA;\n    logic {name}_TVALID, {name}_TREADY;\n"


def _link(module: str, params: str, inst: str, src: str, dst: str, src_data: str = "") -> str:
    """A stream-to-stream module instance from wires `src` to `dst` (its input data from `src_data` if named)."""
    wires = {("in0_V", "TDATA"): src_data or f"{src}_TDATA"}
    ends = ", ".join(f".{p}_{sig}({wires.get((p, sig), f'{w}_{sig}')})" for p, w in (("in0_V", src), ("out0_V", dst))
                     for sig in ("TDATA", "TVALID", "TREADY"))
    return f"    {module} #({params}) {inst} (\n        .ap_clk, .ap_rst_n, {ends});\n"


def _times(signal: str, factor: int) -> str:
    """`signal` * `factor` (a constant) as a sum of shifts: adders in LUTs, where `*` would take DSP slices."""
    terms = [f"({signal} << {bit})" if bit else signal for bit in range(factor.bit_length()) if factor >> bit & 1]
    return " + ".join(terms) or "32'd0"


def _control(s: ShellSpec) -> str:
    """The register file and the run's lengths in beats."""
    n = len(s.weights)
    strides = ", ".join(f"32'd{w.layout.stride}" for w in reversed(s.weights)) or "32'd0"
    return (
        "    logic        start, rd_done, wr_done, rd_error, wr_error;\n"
        "    logic [31:0] frames;\n"
        f"    /* verilator lint_off UNUSEDSIGNAL */  // addresses above the AXI address width; "
        f"{'' if n else 'no weight port; '}the\n"
        "    logic [63:0] in_addr, out_addr;  // DMAs' busy flags (the register file tracks the run)\n"
        f"    logic [{64 * max(n, 1) - 1}:0] weight_addr;\n"
        "    logic        rd_busy, wr_busy;\n"
        + (f"    logic [{n - 1}:0] w_busy;\n" if n else "") +
        "    /* verilator lint_on UNUSEDSIGNAL */\n"
        f"    wire  [31:0] in_beats  = {_times('frames', s.inp.beats(s.axi_bits))};\n"
        f"    wire  [31:0] out_beats = {_times('frames', s.out.beats(s.axi_bits))};\n\n"
        f"    axil_regfile #(.BUILD_ID(64'h{s.build_id:016x}), .IN_STRIDE({s.inp.stride}), "
        f".OUT_STRIDE({s.out.stride}), .WEIGHT_PORTS({n}), .WEIGHT_BYTES({{{strides}}})) u_regs (\n"
        f"        .ap_clk, .ap_rst_n, {_connect('s_axi_control', AXIL_NAMES, 's_axi_control')},\n"
        "        .start, .frames, .in_addr, .out_addr, .weight_addr, .rd_done, .wr_done,\n"
        f"        .axi_error(rd_error || wr_error{' || |w_error' if n else ''}), "
        ".first_out(core_out_TVALID && core_out_TREADY), .interrupt);\n\n")


def _reads_done(s: ShellSpec) -> str:
    """rd_done, the register file's "reads finished": one pulse once the input DMA and every weight DMA are done
    (a weight DMA may still fetch the last frame's padding after the last output word)."""
    return (f"    logic [{len(s.weights)}:0] reads_done, reads_end;  // bit 0 the input DMA, bit k+1 weight DMA k;\n"
            f"    assign reads_done = {'{w_done, in_done}' if s.weights else 'in_done'};  // *_end: done in this run\n"
            "    always_ff @(posedge ap_clk) begin\n"
            "        if (!ap_rst_n || start) reads_end <= '0;\n"
            "        else reads_end <= reads_end | reads_done;\n"
            "    end\n"
            "    assign rd_done = &(reads_done | reads_end) && !(&reads_end);\n\n")


def _dma_params(s: ShellSpec) -> str:
    """Parameters both DMAs share."""
    return f".DATA_W({s.axi_bits}), .ADDR_W({s.addr_bits}), .MAX_BURST({s.max_burst}), .MAX_OUT({MAX_OUT})"


def _read_side(s: ShellSpec) -> str:
    """Read DMA -> width conversion (AXI beats to byte-padded words) -> trim of the frame padding."""
    wi = 8 * s.inp.word_bytes
    return (f"    axi_dma_rd #({_dma_params(s)}) u_rd (\n"
            f"        .ap_clk, .ap_rst_n, .start, .addr(in_addr[{s.addr_bits - 1}:0]), .beats(in_beats), "
            f".rounds(32'd1), .busy(rd_busy), .done(in_done), .error(rd_error),\n"
            f"        {_connect('m_axi_gmem', AR_NAMES)},\n"
            "        .out0_V_TDATA(rd_TDATA), .out0_V_TVALID(rd_TVALID), .out0_V_TREADY(rd_TREADY));\n"
            + _link("width_converter", f".IW({s.axi_bits}), .OW({wi}), .UNIT(8)", "u_in_dwc", "rd", "in_word")
            + _link("frame_trim", f".W({wi}), .KEEP({s.inp.words_per_frame}), .TOTAL({s.inp.stride_words})",
                    "u_trim", "in_word", "core_in"))


def _weight_side(s: ShellSpec, k: int) -> str:
    """Weight stream k: m_axi_wmem<k>'s write channels tied off, its read DMA with prefetch FIFO (the weight
    frame once per frame of the run) -> width conversion -> trim of the padding."""
    w, m, ww = s.weights[k].layout, wmem(k), 8 * s.weights[k].layout.word_bytes
    ties = ", ".join(f"{m}_{n}" for n in ("AWID", "AWADDR", "AWLEN", "AWSIZE", "AWBURST", "AWCACHE", "AWPROT",
                                          "AWVALID", "WDATA", "WSTRB", "WLAST", "WVALID", "BREADY"))
    return (f"    assign {{{ties}}} = '0;  // {m} only reads\n"
            f"    axi_dma_rd #({_dma_params(s)}, .FIFO({MAX_OUT * s.max_burst})) u_wrd{k} (\n"
            f"        .ap_clk, .ap_rst_n, .start, .addr(weight_addr[{64 * k + s.addr_bits - 1}:{64 * k}]), "
            f".beats(32'd{w.beats(s.axi_bits)}), .rounds(frames), .busy(w_busy[{k}]), .done(w_done[{k}]), "
            f".error(w_error[{k}]),\n"
            f"        {_connect(m, AR_NAMES)},\n"
            f"        .out0_V_TDATA(wrd{k}_TDATA), .out0_V_TVALID(wrd{k}_TVALID), .out0_V_TREADY(wrd{k}_TREADY));\n"
            + _link("width_converter", f".IW({s.axi_bits}), .OW({ww}), .UNIT(8)", f"u_w{k}_dwc", f"wrd{k}",
                    f"w{k}_word")
            + _link("frame_trim", f".W({ww}), .KEEP({w.words_per_frame}), .TOTAL({w.stride_words})",
                    f"u_w{k}_trim", f"w{k}_word", f"core_w{k}"))


def _core(s: ShellSpec) -> str:
    """The stitched core: input TDATA (and each weight TDATA) the low bits of the byte-padded word."""
    weights = "".join(f"        .{w.port}_TDATA(core_w{k}_TDATA[{w.bits - 1}:0]), .{w.port}_TVALID(core_w{k}_TVALID), "
                      f".{w.port}_TREADY(core_w{k}_TREADY),\n" for k, w in enumerate(s.weights))
    return (f"    {TOP} u_core (\n        .ap_clk, .ap_rst_n,\n"
            f"        .in0_V_TDATA(core_in_TDATA[{s.in_bits - 1}:0]), .in0_V_TVALID(core_in_TVALID), "
            ".in0_V_TREADY(core_in_TREADY),\n" + weights +
            "        .out0_V_TDATA(core_out_TDATA), .out0_V_TVALID(core_out_TVALID), "
            ".out0_V_TREADY(core_out_TREADY));\n")


def _write_side(s: ShellSpec) -> str:
    """Zero extension to whole bytes -> frame padding -> width conversion (words to AXI beats) -> write DMA."""
    wo = 8 * s.out.word_bytes
    return (f"    wire [{wo - 1}:0] core_out_word = {wo}'(core_out_TDATA);\n"
            + _link("frame_pad", f".W({wo}), .KEEP({s.out.words_per_frame}), .TOTAL({s.out.stride_words})",
                    "u_pad", "core_out", "out_word", src_data="core_out_word")
            + _link("width_converter", f".IW({wo}), .OW({s.axi_bits}), .UNIT(8)", "u_out_dwc", "out_word", "wr")
            + f"    axi_dma_wr #({_dma_params(s)}) u_wr (\n"
            f"        .ap_clk, .ap_rst_n, .start, .addr(out_addr[{s.addr_bits - 1}:0]), .beats(out_beats), "
            ".busy(wr_busy), .done(wr_done), .error(wr_error),\n"
            "        .in0_V_TDATA(wr_TDATA), .in0_V_TVALID(wr_TVALID), .in0_V_TREADY(wr_TREADY),\n"
            f"        {_connect('m_axi_gmem', AW_NAMES)});\n")


def _padded(name: str, bits: int, used: int) -> str:
    """A stream of byte-padded words of which the core takes the low `used` bits."""
    text = _stream(name, bits)
    if used == bits:
        return text
    return (f"    /* verilator lint_off UNUSEDSIGNAL */  // the byte padding of the words\n"
            f"{text}    /* verilator lint_on UNUSEDSIGNAL */\n")


def _wires(s: ShellSpec) -> str:
    """The streams between the shell's blocks."""
    wi, wo, n = 8 * s.inp.word_bytes, 8 * s.out.word_bytes, len(s.weights)
    weights = "    logic        in_done;\n" + (f"    logic [{n - 1}:0] w_error, w_done;  // weight DMA k's at bit k\n"
                                                 if s.weights else "")
    for k, w in enumerate(s.weights):
        ww = 8 * w.layout.word_bytes
        weights += _stream(f"wrd{k}", s.axi_bits) + _stream(f"w{k}_word", ww) + _padded(f"core_w{k}", ww, w.bits)
    return (_stream("rd", s.axi_bits) + _stream("in_word", wi) + _padded("core_in", wi, s.in_bits)
            + _stream("core_out", s.out_bits) + _stream("out_word", wo) + _stream("wr", s.axi_bits) + weights + "\n")


def shell_text(s: ShellSpec) -> str:
    """SystemVerilog text of module xnorflow_shell."""
    return (f"// {SHELL_TOP}: the PYNQ shell around {TOP}, generated by xnorflow.hw.shell. Do not edit.\n"
            f"module {SHELL_TOP} (\n    input  logic ap_clk,\n    input  logic ap_rst_n,\n"
            f"{_axil_ports()}{_axi_ports(s)}{_wmem_ports(s)}"
            "    /* verilator lint_off SYMRSVDWORD */  // the name PYNQ and Vivado look for\n"
            "    output logic interrupt\n    /* verilator lint_on SYMRSVDWORD */\n);\n"
            f"{_wires(s)}{_control(s)}{_reads_done(s)}{_read_side(s)}"
            f"{''.join(_weight_side(s, k) for k in range(len(s.weights)))}{_core(s)}"
            f"{_write_side(s)}endmodule\n")


def shell_sources(core_sources: tuple[Path, ...], shell_file: Path) -> tuple[Path, ...]:
    """Every source the shell needs: the shell's modules, the core's, the shell top (no file twice by name)."""
    files: dict[str, Path] = {}
    for src in (*sources(*SHELL_MODULES), *core_sources, shell_file):
        files.setdefault(Path(src).name, Path(src))
    return tuple(files.values())


def write_shell(out: Path, in_port: Port, out_port: Port, core_sources: tuple[Path, ...], b: Board,
                inputs_key: str, weight_ports: tuple[Port, ...] = ()) -> tuple[Design, dict]:
    """Write out/xnorflow_shell.sv; returns the shell's Design (no streams) and design.json's "shell" entry."""
    s = shell_spec(in_port, out_port, b, inputs_key, weight_ports)
    top = out / SHELL_FILE
    top.write_text(shell_text(s))
    design = Design(SHELL_TOP, shell_sources(core_sources, top), (), ())
    return design, manifest_entry(s, design, inputs_key)


def manifest_entry(s: ShellSpec, design: Design, inputs_key: str) -> dict:
    """design.json's "shell" entry: sources by name (relative to rtl/), widths, build ID, DDR layouts."""
    return {"module": SHELL_TOP, "sources": [Path(f).name for f in design.sources], "axi_bits": s.axi_bits,
            "addr_bits": s.addr_bits, "max_burst": s.max_burst, "build_id": inputs_key[:16],
            "in": s.inp.entry(), "out": s.out.entry(), "weights": [w.entry() for w in s.weights]}
