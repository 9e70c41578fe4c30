"""Stitcher: a folded FINN HW graph -> one top-level SystemVerilog module, AXI-stream in and out.

Every HW layer becomes an instance of its op's module (hw/ops/), every edge a stream_fifo. A layer input that
is not a tensor of the graph, the weight stream of an MVAU with FINN's mem_mode "external", becomes a
top-level input stream w0_V, w1_V, ... (in graph order). FINN's own
stitching (CreateStitchedIP) drives Vivado IP Integrator, so we write the top ourselves. Shortcut
FIFOs are sized by analysis, not by simulation: fifo_depths.py works out, word by word, how far the
fork runs ahead of each reconvergent branch. Memory files are renamed per layer (<layer>_<file>).
Under Verilator, a watchdog in the top stops a deadlocked simulation with one line naming the stalled
stream: a join input whose FIFO is full while the join waits for its other input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from qonnx.core.modelwrapper import ModelWrapper

from xnorflow.errors import XnorflowError
from xnorflow.hw.fifo_depths import Edge, branch_depths, rate_depths
from xnorflow.hw.folding import cycles_per_layer
from xnorflow.hw.ops import hw_nodes, layer_rtl, module_sources
from xnorflow.hw.ops.common import LayerRTL, Port
from xnorflow.hw.verilator import Design, Stream

TOP = "xnorflow_top"
MIN_DEPTH = 2       # every edge: a two-word FIFO decouples the layers' handshakes
WATCHDOG = 4000     # idle cycles, beyond the slowest layer's frame, before the top names the stalled stream


@dataclass
class Stitched:
    """The stitched design, its memory files and what the report needs per layer and edge."""

    design: Design
    mem_files: dict[str, str]
    layers: dict[str, LayerRTL]
    edges: list[Edge]
    in_port: Port
    out_port: Port
    top_text: str = field(repr=False)
    cycles: dict[str, int] = field(default_factory=dict)   # folded cycles per layer
    weight_ports: dict[str, Port] = field(default_factory=dict)   # layer -> its weight stream as a top port w<k>_V


def ident(name: str) -> str:
    """A SystemVerilog identifier for an ONNX name."""
    name = re.sub(r"\W", "_", name)
    return name if name[:1].isalpha() else f"t_{name}"


def data_inputs(model: ModelWrapper, node) -> list[str]:
    """The node's streamed inputs (those without an initializer)."""
    return [t for t in node.input if model.get_initializer(t) is None]


def renamed(rtl: LayerRTL, prefix: str) -> tuple[dict, dict[str, str]]:
    """Parameters and memory files with every *_FILE name prefixed by the layer's name."""
    params = {k: f"{prefix}_{v}" if k.endswith("_FILE") else v for k, v in rtl.design.params.items()}
    return params, {f"{prefix}_{name}": text for name, text in rtl.mem_files.items()}


def _edges(model: ModelWrapper, layers: dict) -> list[Edge]:
    """Every stream between two layers, with the ports at both ends."""
    producers = {}
    for node in hw_nodes(model):
        for tensor, port in zip(node.output, layers[node.name].outputs):
            producers[tensor] = (node.name, port)
    edges = []
    for node in hw_nodes(model):
        for tensor, port in zip(data_inputs(model, node), layers[node.name].inputs):
            if tensor in producers:
                src, src_port = producers[tensor]
                if src_port.stream.bits != port.stream.bits:
                    raise XnorflowError(f"stream {tensor}: {src} sends {src_port.stream.bits}-bit words, "
                                        f"{node.name} takes {port.stream.bits}",
                                        "insert a width converter (FINN InsertDWC) after folding")
                edges.append(Edge(tensor, src, src_port, node.name, port))
    return edges


def _ends(model: ModelWrapper, layers: dict) -> tuple[str, Port, str, Port]:
    """The one graph input and output tensor of the HW part and their ports."""
    nodes = hw_nodes(model)
    produced = {t for n in nodes for t in n.output}
    consumed = {t for n in nodes for t in data_inputs(model, n)}
    ins = [(t, p) for n in nodes for t, p in zip(data_inputs(model, n), layers[n.name].inputs)
           if t not in produced]
    outs = [(t, p) for n in nodes for t, p in zip(n.output, layers[n.name].outputs) if t not in consumed]
    if len(ins) != 1 or len(outs) != 1:
        raise XnorflowError(f"the HW part has {len(ins)} input and {len(outs)} output streams",
                            "stitch a graph with one streamed input and one output")
    return ins[0][0], ins[0][1], outs[0][0], outs[0][1]


def weight_ports(model: ModelWrapper, layers: dict) -> dict[str, Port]:
    """Layer -> its weight stream (an RTL input beyond the graph's tensors), renamed w0_V, w1_V, ... in graph order."""
    found = [(n.name, p) for n in hw_nodes(model) for p in layers[n.name].inputs[len(data_inputs(model, n)):]]
    return {name: replace(p, stream=Stream(f"w{k}_V", p.stream.bits)) for k, (name, p) in enumerate(found)}


def _wires(name: str, bits: int) -> str:
    """Declarations of one AXI stream's wires."""
    return (f"    logic [{bits - 1}:0] {name}_TDATA;\n    logic {name}_TVALID;\n"
            f"    logic {name}_TREADY;\n")


def _connect(port: str, wire: str) -> list[str]:
    """Port connections of one AXI stream."""
    return [f".{port}_{s}({wire}_{s})" for s in ("TDATA", "TVALID", "TREADY")]


def _instance(module: str, params: dict, name: str, conns: list[str]) -> str:
    """One module instance with parameter overrides."""
    ps = ", ".join(f'.{k}("{v}")' if isinstance(v, str) else f".{k}({int(v)})" for k, v in params.items())
    body = ",\n        ".join([".ap_clk(ap_clk)", ".ap_rst_n(ap_rst_n)", *conns])
    return f"    {module} #({ps}) {name} (\n        {body});\n"


def _culprits(model: ModelWrapper, edges: list[Edge]) -> str:
    """Watchdog checks naming a join input whose FIFO is full while the join waits for another input."""
    by_dst: dict[str, list[Edge]] = {}
    for e in edges:
        by_dst.setdefault(e.dst, []).append(e)
    checks = []
    for dst, ins in by_dst.items():
        if len(data_inputs(model, model.get_node_from_name(dst))) < 2:
            continue
        for full in ins:
            f = ident(full.tensor)
            for other in (e for e in ins if e is not full):
                o = ident(other.tensor) + "_q"
                checks.append(
                    f"            if (culprit == \"\" && {f}_TVALID && !{f}_TREADY && {f}_q_TVALID && "
                    f"!{f}_q_TREADY && !{o}_TVALID)\n"
                    f"                culprit = \" the FIFO of stream {full.tensor} (depth {full.depth}) is full "
                    f"while {dst} waits for stream {other.tensor}\";\n")
    return "".join(checks)


def _watchdog(wires: list[str], moved: list[str], culprits: str, limit: int) -> str:
    """Verilator-only watchdog: after `limit` cycles without any of the handshakes `moved`, print one line naming the
    stalled stream, finish. An edge's handshakes are its FIFO's push and pop, signals Verilator keeps anyway: spelled
    out again as TVALID && TREADY, Verilator evaluated them a second time (7% of the demo design's instructions per
    simulated cycle, callgrind)."""
    report = "".join(
        f'            if ({w}_TVALID && !{w}_TREADY) blocked = {{blocked, " {w}"}};\n'
        f'            if (!{w}_TVALID && {w}_TREADY) starved = {{starved, " {w}"}};\n' for w in wires)
    return (
        "`ifdef VERILATOR\n"
        "    int unsigned idle;\n"
        "    always_ff @(posedge ap_clk) idle <= (!ap_rst_n || " + " || ".join(moved) + ") ? 0 : idle + 1;\n"
        "    always @(posedge ap_clk) begin\n"
        f"        if (idle == {limit}) begin\n"
        "            automatic string culprit = \"\", blocked = \"\", starved = \"\";\n"
        f"{culprits}{report}"
        f'            if (culprit != "") $fdisplay(32\'h8000_0002, "deadlock: no handshake for {limit} cycles:%s", culprit);\n'
        f'            else $fdisplay(32\'h8000_0002, "deadlock: no handshake for {limit} cycles; streams holding data '
        '(TVALID, no TREADY):%s; streams waiting for data:%s", blocked, starved);\n'
        "            $finish;\n"
        "        end\n"
        "    end\n"
        "`endif\n")


def _weight_ports_text(weights: dict[str, Port]) -> str:
    """The top's weight stream input ports."""
    return "".join(f"    input  logic [{p.stream.bits - 1}:0] {p.stream.name}_TDATA,\n    input  logic "
                   f"{p.stream.name}_TVALID,\n    output logic {p.stream.name}_TREADY,\n" for p in weights.values())


def top_module(model: ModelWrapper, layers: dict, edges: list[Edge], params: dict[str, dict],
               watchdog: int) -> tuple[str, Port, Port]:
    """SystemVerilog text of the top module (its watchdog fires after `watchdog` idle cycles)."""
    t_in, p_in, t_out, p_out = _ends(model, layers)
    weights = weight_ports(model, layers)
    decls, body, wires = [], [], [ident(t_in), ident(t_out), *(p.stream.name for p in weights.values())]
    moved = [f"({w}_TVALID && {w}_TREADY)" for w in wires]  # handshakes, for the watchdog
    for e in edges:
        src, dst = ident(e.tensor), ident(e.tensor) + "_q"
        decls += [_wires(src, e.src_port.stream.bits), _wires(dst, e.src_port.stream.bits)]
        wires += [src, dst]
        moved += [f"fifo_{src}.push", f"fifo_{src}.pop"]  # stream_fifo's own TVALID && TREADY of src and dst
        body.append(_instance("stream_fifo", {"W": e.src_port.stream.bits, "DEPTH": e.depth},
                              f"fifo_{src}", _connect("in0_V", src) + _connect("out0_V", dst)))
    consumed = {e.tensor for e in edges}
    for node in hw_nodes(model):
        rtl_in, rtl_out = layers[node.name].inputs, layers[node.name].outputs
        conns = [c for t, p in zip(data_inputs(model, node), rtl_in)
                 for c in _connect(p.stream.name, ident(t) + ("_q" if t in consumed else ""))]
        conns += [c for t, p in zip(node.output, rtl_out) for c in _connect(p.stream.name, ident(t))]
        if node.name in weights:
            conns += _connect(rtl_in[-1].stream.name, weights[node.name].stream.name)
        body.append(_instance(layers[node.name].design.top, params[node.name], f"u_{ident(node.name)}", conns))
    w_in, w_out = ident(t_in), ident(t_out)
    text = (f"// {TOP}: generated by xnorflow.hw.stitch from the folded FINN HW graph. Do not edit.\n"
            f"module {TOP} (\n    input  logic ap_clk,\n    input  logic ap_rst_n,\n"
            f"    input  logic [{p_in.stream.bits - 1}:0] in0_V_TDATA,\n    input  logic in0_V_TVALID,\n"
            f"    output logic in0_V_TREADY,\n{_weight_ports_text(weights)}"
            f"    output logic [{p_out.stream.bits - 1}:0] out0_V_TDATA,\n    output logic out0_V_TVALID,\n"
            f"    input  logic out0_V_TREADY\n);\n"
            f"{_wires(w_in, p_in.stream.bits)}{_wires(w_out, p_out.stream.bits)}{''.join(decls)}"
            f"    assign {w_in}_TDATA = in0_V_TDATA;\n    assign {w_in}_TVALID = in0_V_TVALID;\n"
            f"    assign in0_V_TREADY = {w_in}_TREADY;\n"
            f"    assign out0_V_TDATA = {w_out}_TDATA;\n    assign out0_V_TVALID = {w_out}_TVALID;\n"
            f"    assign {w_out}_TREADY = out0_V_TREADY;\n\n"
            f"{''.join(body)}{_watchdog(wires, moved, _culprits(model, edges), watchdog)}endmodule\n")
    return text, p_in, p_out


def stitch(model: ModelWrapper, out_dir: Path) -> Stitched:
    """Build every layer, size the FIFOs and write out_dir/xnorflow_top.sv; returns the design."""
    layers = {n.name: layer_rtl(model, n) for n in hw_nodes(model)}
    edges = _edges(model, layers)
    rates, branches = rate_depths(model, layers, edges), branch_depths(model, layers, edges)
    for e in edges:
        e.depth = max(MIN_DEPTH, rates.get(e.tensor, 0), branches.get(e.tensor, 0))
    params, mems = {}, {}
    for name, rtl in layers.items():
        params[name], files = renamed(rtl, ident(name))
        mems |= files
    cycles = cycles_per_layer(model)
    text, p_in, p_out = top_module(model, layers, edges, params, WATCHDOG + max(cycles.values()))
    out_dir.mkdir(parents=True, exist_ok=True)
    top_file = out_dir / f"{TOP}.sv"
    top_file.write_text(text)
    modules = ["stream_fifo"] + [rtl.design.top for rtl in layers.values()]
    files = list(dict.fromkeys(f for m in modules for f in module_sources(m)))
    weights = weight_ports(model, layers)
    design = Design(TOP, (*files, top_file), (Stream("in0_V", p_in.stream.bits), *(p.stream for p in weights.values())),
                    (Stream("out0_V", p_out.stream.bits),))
    return Stitched(design, mems, layers, edges, p_in, p_out, text, cycles, weights)
