"""Stitched accelerators in Verilator: cycles/frame vs the analytical bound (target <= 1.05) for every
buildable tiny model at the demo's folding and for bireal18-cifar fitted to a board, and simulated
cycles per second of the demo design (tiny-bireal, folding 4000; target >= 1 M), compile excluded.

    .venv/bin/python benchmarks/hw_accelerator.py [--models ...] [--board Pynq-Z2] [--speed-frames 200]
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
from xnorflow.hw.accelerator import build_target, make_rtl, random_frames, run_design
from xnorflow.hw.folding import board

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "build_flows"))
import torch  # noqa: E402
from probes import randomize_bn  # noqa: E402

DEMO = ("tiny-bireal", "4000")  # what `xnorflow demo` builds
FOLDINGS = {"tiny-bireal": "4000", "tiny-reactnet": "4000", "tiny-hyperbnn": "4000", "bireal18-cifar": None}


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


def sim_speed(build: Path, board_name: str, folding: str, frames: int) -> dict:
    """Simulated cycles per wall (and CPU) second over `frames` frames on the already compiled design."""
    st, ref, _ = make_rtl(build, board(board_name), folding)
    xs = random_frames(ref, frames, 1)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    _, res = run_design(st, xs)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"frames": frames, "cycles": res.cycles, "wall_s": round(res.wall_s, 3),
            "cycles_per_wall_s": round(res.cycles_per_second), "cycles_per_cpu_s": round(res.cycles / cpu)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="*", default=list(FOLDINGS))
    parser.add_argument("--board", default="Pynq-Z2")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--speed-frames", type=int, default=200)
    args = parser.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            try:
                build = hw_dir(name, Path(tmp))
                figures[name] = ratio(build, args.board, FOLDINGS.get(name), args.frames)
                if (name, FOLDINGS.get(name)) == DEMO:
                    figures["sim_speed_demo"] = sim_speed(build, args.board, DEMO[1], args.speed_frames)
            except Exception as exc:  # a model the flow cannot take yet is reported, not hidden
                figures[name] = {"error": str(exc)[:300]}
    record("hw_accelerator", figures)


if __name__ == "__main__":
    main()
