"""A build directory holding only what the bitfile step reads: rtl/design.json with its "shell" entry, the
shell top `xnorflow_shell` with the ports of the register file, DDR master(s), clock, reset and interrupt,
a core source and a memory file. Lets the Vivado tests run in milliseconds, without generating RTL."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from xnorflow.build_dir import MARKER

LITE = [("AWADDR", 8, "in"), ("AWVALID", 1, "in"), ("AWREADY", 1, "out"), ("WDATA", 32, "in"), ("WSTRB", 4, "in"),
        ("WVALID", 1, "in"), ("WREADY", 1, "out"), ("BRESP", 2, "out"), ("BVALID", 1, "out"), ("BREADY", 1, "in"),
        ("ARADDR", 8, "in"), ("ARVALID", 1, "in"), ("ARREADY", 1, "out"), ("RDATA", 32, "out"), ("RRESP", 2, "out"),
        ("RVALID", 1, "out"), ("RREADY", 1, "in")]
FULL = ["AWID 1", "AWADDR A", "AWLEN 8", "AWSIZE 3", "AWBURST 2", "AWCACHE 4", "AWPROT 3", "AWVALID 1", "AWREADY -1",
        "WDATA D", "WSTRB S", "WLAST 1", "WVALID 1", "WREADY -1", "BID -1", "BRESP -2", "BVALID -1", "BREADY 1",
        "ARID 1", "ARADDR A", "ARLEN 8", "ARSIZE 3", "ARBURST 2", "ARCACHE 4", "ARPROT 3", "ARVALID 1", "ARREADY -1",
        "RID -1", "RDATA -D", "RRESP -2", "RLAST -1", "RVALID -1", "RREADY 1"]


def _port(direction: str, bits: int, name: str) -> str:
    width = f"[{bits - 1}:0] " if bits > 1 else ""
    return f"  {'input ' if direction == 'in' else 'output'} logic {width}{name}"


def _master(prefix: str, data: int, addr: int) -> list[str]:
    """An AXI4 master's ports: signal widths from the table (negative: an input of the master)."""
    ports = []
    for item in FULL:
        sig, width = item.split()
        into = width.startswith("-")
        bits = {"A": addr, "D": data, "S": data // 8}.get(width.lstrip("-"), None) or abs(int(width.lstrip("-") or 0))
        ports.append(_port("in" if into else "out", bits, f"{prefix}_{sig}"))
    return ports


def shell_sv(axi_bits: int, addr_bits: int, weights: int = 0) -> str:
    """The shell top's port list (body empty: Vivado reads the ports of a module reference)."""
    ports = [_port("in", 1, "ap_clk"), _port("in", 1, "ap_rst_n")]
    ports += [_port(d, b, f"s_axi_control_{s}") for s, b, d in LITE]
    ports += _master("m_axi_gmem", axi_bits, addr_bits)
    ports += [port for k in range(weights) for port in _master(f"m_axi_wmem{k}", axi_bits, addr_bits)]
    ports.append(_port("out", 1, "interrupt"))
    return ("module xnorflow_shell #(\n  parameter int AXI_BITS = %d\n) (\n%s\n);\nendmodule\n"
            % (axi_bits, ",\n".join(ports)))


def make_build(root: Path, axi_bits: int, addr_bits: int, weights: Sequence[int] = (), shell: bool = True,
               in_stride: int = 0) -> Path:
    """A build directory whose rtl/ holds a shell and a core (a placeholder module) and one memory file; the shell
    has one weight master per entry of `weights` (its bytes per frame) and reads `in_stride` input bytes a frame."""
    rtl = root / "rtl"
    rtl.mkdir(parents=True)
    (root / MARKER).write_text("test build\n")
    (rtl / "xnorflow_shell.sv").write_text(shell_sv(axi_bits, addr_bits, len(weights)))
    (rtl / "xnorflow_top.sv").write_text("module xnorflow_top (input logic ap_clk);\nendmodule\n")
    (rtl / "MVAU_0_weights.mem").write_text("0f\n")
    manifest = {"inputs": "0123456789abcdef" * 4,
                "top": {"module": "xnorflow_top", "sources": ["xnorflow_top.sv"], "mem_files": ["MVAU_0_weights.mem"]}}
    if shell:
        manifest["shell"] = {"module": "xnorflow_shell", "sources": ["xnorflow_shell.sv", "xnorflow_top.sv"],
                             "axi_bits": axi_bits, "addr_bits": addr_bits, "build_id": "0123456789abcdef",
                             "in": {"stride": in_stride},
                             "weights": [{"port": f"w{k}_V", "stride": n} for k, n in enumerate(weights)]}
    (rtl / "design.json").write_text(json.dumps(manifest))
    return root
