"""Stitched accelerators in Verilator: cycles/frame vs the analytical bound (target <= 1.02) for every
buildable tiny model at the demo's folding and for bireal18-cifar fitted to a board (as `xnorflow build
--target sim` reports it, frames F+1..2F, and over many more frames), and simulated cycles per second
(target >= 1 M for the demo design, tiny-bireal at folding 4000), compile excluded.

    .venv/bin/python benchmarks/hw_accelerator.py [--models ...] [--board Pynq-Z2] [--steady-frames 100]
"""
import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from common import record

from xnorflow.build_flows.export import export
from xnorflow.build_flows.hw_graph import build_hw_graph
from xnorflow.build_flows.pipeline import name_source
from xnorflow.hw.accelerator import build_target, random_frames, reference_part, run_design
from xnorflow.hw.build import open_build

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "build_flows"))
import torch  # noqa: E402
from probes import randomize_bn  # noqa: E402

DEMO = ("tiny-bireal", "4000")  # what `xnorflow demo` builds
FOLDINGS = {DEMO[0]: DEMO[1], "tiny-reactnet": "4000", "tiny-hyperbnn": "4000", "tiny-real2bin": "4000",
            "bireal18-cifar": None}


def hw_dir(name: str, tmp: Path) -> Path:
    """A registry model (initial weights, BN statistics randomised) through export and hw-graph."""
    source = name_source(name, None, 0)
    randomize_bn(source.model, torch.Generator().manual_seed(0))
    export(source.model, source.input_shape, tmp / f"{name}.onnx")
    build_hw_graph(tmp / f"{name}.onnx", tmp / name)
    return tmp / name


def ratio(build: Path, board_name: str, folding: str | None, frames: int) -> dict:
    """The sim target (bit-exact check included): cycles/frame, bound, ratio, with its wall time."""
    began = time.perf_counter()
    sim = build_target(build, "sim", board_name, folding, frames)["sim"]
    return {**sim, "board": board_name, "folding": folding or "fitted to board",
            "rtl_compile_and_sim_s": round(time.perf_counter() - began, 1)}


def steady_state(build: Path, frames: int) -> dict:
    """Cycles/frame once the FIFOs have filled: last output of 2F frames minus that of F frames, over F;
    and simulated cycles per wall (and CPU) second of the 2F-frame run, on the already compiled design."""
    st = open_build(build)  # the sim target (ratio) just built its RTL
    ref = reference_part(st)
    half = run_design(st, random_frames(ref, frames, 1))[1]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    _, full = run_design(st, random_frames(ref, 2 * frames, 1))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    per_frame = (full.last_out - half.last_out) / frames
    return {"steady_cycles_per_frame": per_frame, "steady_ratio_to_bound": round(per_frame / max(st.cycles.values()), 4),
            "speed_frames": 2 * frames, "speed_cycles": full.cycles, "sim_cycles_per_wall_s": round(full.cycles_per_second),
            "sim_cycles_per_cpu_s": round(full.cycles / cpu)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="*", default=list(FOLDINGS))
    parser.add_argument("--board", default="Pynq-Z2")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--steady-frames", type=int, default=100, help="F: steady state from F and 2F frames")
    args = parser.parse_args()
    figures = {"demo": {"model": DEMO[0], "folding": DEMO[1]}}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            try:
                build = hw_dir(name, Path(tmp))
                figures[name] = ratio(build, args.board, FOLDINGS.get(name), args.frames)
                figures[name] |= steady_state(build, args.steady_frames)
            except Exception as exc:  # a model the flow cannot take yet is reported, not hidden
                figures[name] = {"error": str(exc)[:300]}
    record("hw_accelerator", figures)


if __name__ == "__main__":
    main()
