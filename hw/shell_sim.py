"""The whole shell in Verilator behind the driver's backend calls: the compiled xnorflow_shell model with its
harness (rtl/shell_tb.cpp) as a child process, DDR as a memory-mapped file both sides map.

The harness serves the shell's AXI4 master and each weight master m_axi_wmem<k> (one per layer that streams its
weights) with a DDR model (random read latency, RVALID gaps, READY stalls when asked, drawn per port: see TIMINGS)
and drives its AXI4-Lite port from line commands; `ShellSim` speaks those commands. The model is compiled once per design
through hw/verilator.py's cache, and runs in the build's rtl/ (where its memory files are), reading them and
writing nothing there.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from xnorflow.errors import XnorflowError
from xnorflow.hw.build import MANIFEST, RTL_DIR, Build, open_build
from xnorflow.hw.verilator import Design, compile_design

TESTBENCH = "shell_tb.cpp"
PAGE = 4096
DEFAULT_BASE = 0x1000_0000  # the simulated DDR's first bus address: not 0, so a DMA that drops address bits is caught
DEFAULT_MEM_BYTES = 64 << 20
# DDR timing of the harness: "ddr" is a Zynq HP port's (read latency of a few tens of cycles, no stalls),
# "stress" adds random gaps and stalls on every channel (what the tests use to shake the DMAs).
TIMINGS = {
    "ddr": {"rd_lat_min": 24, "rd_lat_max": 40, "b_lat": 12},
    "stress": {"rd_lat_min": 1, "rd_lat_max": 60, "b_lat": 20, "r_gap": 0.3, "ar_stall": 0.4, "aw_stall": 0.4,
               "w_stall": 0.3},
}


def shell_design(build: Build) -> Design:
    """The whole-shell Design of a build, compiled with the harness."""
    if build.shell is None:
        raise XnorflowError(f"{build.path} has RTL without the shell ({RTL_DIR}/{MANIFEST} has no 'shell' entry)",
                            f"regenerate it with `xnorflow build --target rtl --out {build.path}`")
    return harness_design(build.shell, build.shell_manifest)


def harness_design(shell: Design, entry: dict) -> Design:
    """A shell's Design (design.json "shell" `entry`) with the harness, which reads the AXI data width and the
    number of weight masters."""
    return replace(shell, testbench=TESTBENCH, defines=(("XF_AXI_BITS", int(entry["axi_bits"])),
                                                        ("XF_WMEM", len(entry.get("weights") or ()))))


class SimBuffer(np.ndarray):
    """A DDR buffer of the simulated shell: a uint8 view of the shared memory file with its bus address.

    flush() and invalidate() do nothing: both processes map the same file, so the simulated DDR is coherent."""

    device_address: int

    def __array_finalize__(self, obj) -> None:
        self.device_address = getattr(obj, "device_address", 0)

    def flush(self) -> None:
        """Nothing to write back: the simulated DDR is the shared mapping itself."""

    def invalidate(self) -> None:
        """Nothing to drop: the simulated DDR is the shared mapping itself."""


class ShellSim:
    """One running whole-shell model: its AXI4-Lite port, its clock, and the DDR it serves."""

    def __init__(self, design: Design, rtl: Path, seed: int = 1, timing: str = "ddr",
                 mem_bytes: int = DEFAULT_MEM_BYTES, base: int = DEFAULT_BASE) -> None:
        if timing not in TIMINGS:
            raise XnorflowError(f"unknown DDR timing '{timing}'", f"use one of: {', '.join(TIMINGS)}")
        exe = compile_design(design)
        self._dir = tempfile.TemporaryDirectory(prefix="xf-ddr-")
        mem_file = Path(self._dir.name) / "ddr.bin"
        with mem_file.open("wb") as f:
            f.truncate(mem_bytes)
        self.memory = np.memmap(mem_file, np.uint8, "r+", shape=(mem_bytes,))
        self.base, self._next = base, 0
        args = [f"mem={mem_file}", f"base={base}", f"seed={seed}", *(f"{k}={v}" for k, v in TIMINGS[timing].items())]
        self._proc = subprocess.Popen([str(exe), *args], cwd=rtl, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, bufsize=1)
        self.cycles = 0

    def command(self, line: str) -> list[str]:
        """Send one harness command; its answer's words (one clear line when the model died or timed out)."""
        if self._proc.poll() is not None:
            raise XnorflowError(f"the shell model exited (rc {self._proc.returncode}): {self._stderr()}",
                                "report the build: its simulation crashed")
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()
        answer = self._proc.stdout.readline().strip()
        if not answer or answer.startswith(("timeout", "error")):
            raise XnorflowError(f"the shell model answered '{answer or 'nothing'}' to '{line}'",
                                "report the build: its AXI4-Lite port does not respond")
        return answer.split()

    def _stderr(self) -> str:
        """The model's last error output, one line."""
        return " | ".join(self._proc.stderr.read().strip().splitlines()[-3:])

    def write(self, addr: int, value: int) -> int:
        """AXI4-Lite write; its BRESP."""
        return int(self.command(f"w {addr} {value}")[1])

    def read(self, addr: int) -> tuple[int, int]:
        """AXI4-Lite read; (RDATA, RRESP)."""
        _, data, resp = self.command(f"r {addr}")
        return int(data), int(resp)

    def advance(self, cycles: int) -> bool:
        """Run up to `cycles` clock cycles, stopping once the interrupt is high; whether it is."""
        return self.command(f"a {int(cycles)}")[2] == "1"

    def stats(self) -> dict:
        """The harness's statistics: cycle, START and interrupt cycles, DECERRs and protocol reports, bytes moved."""
        return json.loads(" ".join(self.command("s")))

    def allocate(self, nbytes: int) -> SimBuffer:
        """A 4 KiB-aligned buffer of the simulated DDR (as pynq.allocate's are page-aligned)."""
        start = self._next
        if start + nbytes > len(self.memory):
            raise XnorflowError(f"the simulated DDR ({len(self.memory)} bytes) has no room for {nbytes} more",
                                "open the accelerator with a larger mem_bytes")
        self._next = -(-(start + nbytes) // PAGE) * PAGE
        buf = self.memory[start:start + nbytes].view(SimBuffer)
        buf.device_address = self.base + start
        return buf

    def close(self) -> None:
        """Stop the model and remove the memory file."""
        if self._proc.poll() is None:
            self._proc.stdin.write("q\n")
            self._proc.stdin.flush()
            self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            stream.close()
        del self.memory
        self._dir.cleanup()


class VerilatorBackend:
    """The driver's backend over ShellSim: registers, buffers and waiting in simulated clock cycles."""

    def __init__(self, runtime: dict, **options) -> None:
        rtl = Path(runtime["rtl"])
        if not (rtl / MANIFEST).is_file():
            raise XnorflowError(f"the RTL this accelerator was built from ({rtl}) is not on this machine",
                                "simulate on the machine that built it, or run the deploy folder on its board")
        self.sim = ShellSim(shell_design(open_build(rtl.parent)), rtl, **options)

    def write(self, addr: int, value: int) -> None:
        """Write a control register."""
        self.sim.write(addr, value)

    def read(self, addr: int) -> int:
        """Read a control register."""
        return self.sim.read(addr)[0]

    def allocate(self, nbytes: int) -> SimBuffer:
        """A buffer of the simulated DDR."""
        return self.sim.allocate(nbytes)

    def wait(self, cycles: int) -> None:
        """Advance the clock up to `cycles` cycles (less once the interrupt rises); a protocol report is an error."""
        self.sim.advance(cycles)
        found = self.sim.stats()
        if found["protocol_errors"]:
            raise XnorflowError(f"the shell broke the AXI protocol: {found['last_report']}",
                                "report the build: the DDR model of the harness caught it")

    def close(self) -> None:
        """Stop the simulation."""
        self.sim.close()
