"""Whole-design simulation speed: the demo design (tiny-bireal at the demo's folding) in Verilator over many frames,
at full rate and with random input gaps and output stalls, built with the previous flags (runtime library at -O0,
Verilator's add-to-popcount peephole on) and with today's (hw/verilator.py BUILD_FLAGS, MAKE_FLAGS), in one run on
the same machine load (target >= 1 M simulated cycles per CPU-second). Both builds simulate the same RTL (the
stitcher's current watchdog). Each flag set compiles into its own empty cache (compile CPU-seconds include the
runtime library); the two builds' outputs must be identical.

    cd benchmarks && ../.venv/bin/python sim_speed.py [--frames 2000]
"""
import argparse
import os
import resource
import tempfile
from pathlib import Path

import numpy as np
from common import record
from hw_accelerator import hw_dir

from xnorflow.demo import FOLDING
from xnorflow.hw import verilator
from xnorflow.hw.accelerator import GAPS, build_target, random_frames, reference_part, run_design
from xnorflow.hw.build import Build, open_build

MODEL = "tiny-bireal"  # what `xnorflow demo` builds
# (verilator flags, make flags): as they were before this benchmark came in (commit b771d57), and as they are now
FLAGS = {"before": (("-O3", "--x-assign", "fast", "--x-initial", "fast", "--no-timing", "-Wno-fatal", "-Wno-lint",
                     "-Wno-style", "--noassert"),
                    ("OPT_FAST=-O2", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0", "CFG_CXXFLAGS_PCH_I=-include")),
         "after": (verilator.BUILD_FLAGS, verilator.MAKE_FLAGS)}


def child_cpu() -> float:
    """CPU seconds of this process's finished children only (the compilers, the simulator): common.cpu_seconds
    adds this process's own (word packing), which is not the simulator's."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def speed(st: Build, xs: np.ndarray, **gaps) -> tuple[dict, np.ndarray]:
    """Simulated cycles and the simulator's CPU seconds for the frames `xs`; and the outputs."""
    began = child_cpu()
    ys, res = run_design(st, xs, **gaps)
    cpu = child_cpu() - began
    return {"cycles": res.cycles, "cpu_s": round(cpu, 3), "m_cycles_per_cpu_s": round(res.cycles / cpu / 1e6, 3),
            "wall_s_model_loop": round(res.wall_s, 3)}, ys


def measure(build: Path, flags: tuple[tuple[str, ...], tuple[str, ...]], xs: np.ndarray,
            cache: Path) -> tuple[dict, list[np.ndarray]]:
    """Compile the demo design with (verilator, make) `flags` into the empty cache `cache`, then run it with and
    without gaps."""
    verilator.BUILD_FLAGS, verilator.MAKE_FLAGS = flags
    os.environ["XNORFLOW_CACHE"] = str(cache)
    st = open_build(build)
    began = child_cpu()
    st.compiled()
    figures = {"verilator_flags": " ".join(flags[0]), "make_flags": " ".join(flags[1]),
               "compile_cpu_s": round(child_cpu() - began, 1)}
    figures["full_rate"], ys = speed(st, xs)
    figures["gaps"], ys_gaps = speed(st, xs, **GAPS)
    figures["gaps"] |= GAPS
    return figures, [ys, ys_gaps]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=2000)
    args = parser.parse_args()
    os.environ.pop(verilator.QUICK_COMPILE_ENV, None)
    figures = {"model": MODEL, "folding": FOLDING, "frames": args.frames}
    with tempfile.TemporaryDirectory() as tmp:
        build = hw_dir(MODEL, Path(tmp))
        build_target(build, "rtl", "Pynq-Z2", FOLDING)
        xs = random_frames(reference_part(open_build(build)), args.frames, 0)
        outputs = {}
        for name, flags in FLAGS.items():
            figures[name], outputs[name] = measure(build, flags, xs, Path(tmp) / f"cache-{name}")
            print(name, figures[name], flush=True)
    figures["outputs_identical"] = all(np.array_equal(a, b) for a, b in zip(outputs["before"], outputs["after"]))
    before, after = figures["before"]["full_rate"]["cpu_s"], figures["after"]["full_rate"]["cpu_s"]
    figures["speedup_full_rate"] = round(before / after, 3)
    record("sim_speed", figures)


if __name__ == "__main__":
    main()
