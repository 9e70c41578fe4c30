"""The whole shell (register file, DMAs, width conversion, DDR model) against the core alone, in Verilator:
frames/s at the board's clock (100 MHz on Pynq-Z2) and latency for the demo design (tiny-bireal, folding 4000;
its registry weights unless --checkpoint names a trained model.pt: throughput does not depend on weights).
The shell's figures come from its own CYCLES/LATENCY registers through the driver, the core's from the
AXI-stream testbench fed at full rate (hw/accelerator.py run_design). Target: at batch 64 the shell costs
< 2% of the core's throughput. Compile time excluded; production compiler flags.

    .venv/bin/python benchmarks/shell_throughput.py [--frames 64] [--checkpoint runs/demo/train/model.pt]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import record

from xnorflow.build_flows.pipeline import build
from xnorflow.hw import driver
from xnorflow.hw.accelerator import build_target, random_frames, reference_part, run_design
from xnorflow.hw.build import open_build
from xnorflow.hw.shell_sim import shell_design
from xnorflow.hw.verilator import compile_design

sys.path.insert(0, str(Path(__file__).parent))
from hw_accelerator import DEMO, hw_dir  # noqa: E402

BOARD = "Pynq-Z2"


def core(build_dir: Path, frames: int) -> dict:
    """The core alone at full rate: cycles for 1 and `frames` frames (first input to last output)."""
    st = open_build(build_dir)
    xs = random_frames(reference_part(st), frames, 0)
    one, full = run_design(st, xs[:1])[1], run_design(st, xs)[1]
    return {"cycles_1": one.last_out + 1, "latency_cycles": one.first_out + 1, "cycles": full.last_out + 1}


def shell(build_dir: Path, frames: int, timing: str) -> dict:
    """The whole shell through the driver: its CYCLES for 1 and `frames` frames and LATENCY, from DDR to DDR."""
    with driver.open(build_dir, backend="verilator", timing=timing) as acc:
        one = acc.throughput_test(1)
        began = time.perf_counter()
        full = acc.throughput_test(frames)
        wall = time.perf_counter() - began
    return {"cycles_1": one["cycles"], "latency_cycles": one["latency_cycles"], "cycles": full["cycles"],
            "sim_cycles_per_wall_s": round(full["cycles"] / wall), "host_pack_s": full["host_pack_s"],
            "host_unpack_s": full["host_unpack_s"]}


def figures(c: dict, s: dict, frames: int, clock_hz: float) -> dict:
    """Frames/s of both, and the shell's cost: the throughput it loses at this batch, in percent."""
    return {"core_frames_per_s": round(frames * clock_hz / c["cycles"]),
            "shell_frames_per_s": round(frames * clock_hz / s["cycles"]),
            "shell_cost_percent": round(100 * (1 - c["cycles"] / s["cycles"]), 3),
            "extra_cycles_per_run": s["cycles"] - c["cycles"],
            "core_latency_us": c["cycles_1"] / clock_hz * 1e6, "shell_latency_us": s["cycles_1"] / clock_hz * 1e6}


def demo_build(tmp: Path, checkpoint: str | None) -> Path:
    """The demo's design built to RTL: a trained checkpoint as the demo builds it, else the registry weights."""
    if checkpoint:
        build(checkpoint, tmp / "demo")
        path = tmp / "demo"
    else:
        path = hw_dir(DEMO[0], tmp)
    build_target(path, "rtl", BOARD, DEMO[1])
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--checkpoint", help="a trained model.pt of the demo (default: registry weights)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = demo_build(Path(tmp), args.checkpoint)
        compile_design(open_build(path).design)
        compile_design(shell_design(open_build(path)))
        clock_hz = driver.load_runtime(path)["clock_mhz"] * 1e6
        c = core(path, args.frames)
        result = {"model": DEMO[0], "folding": DEMO[1], "board": BOARD, "clock_mhz": clock_hz / 1e6,
                  "weights": args.checkpoint or "registry (untrained)", "frames": args.frames, "core": c}
        for timing in ("ddr", "stress"):
            s = shell(path, args.frames, timing)
            result[f"shell_{timing}"] = {**s, **figures(c, s, args.frames, clock_hz)}
    result["target_met"] = result["shell_ddr"]["shell_cost_percent"] < 2.0
    record("shell_throughput", result)


if __name__ == "__main__":
    main()
