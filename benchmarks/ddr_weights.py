"""Layers whose weights stream from DDR, through the whole shell in Verilator (the driver's backend, the harness's
"ddr" timing: read latency 24..40 cycles, each AXI master served on its own): steady-state cycles per frame (runs
of FRAMES and 2 FRAMES frames, the difference over FRAMES: no fill latency) against the
compute bound (the slowest layer's cycles) and the DDR bound (the most AXI beats one weight master reads per
frame), for a compute-bound chain of two DDR-resident MVAUs and a DDR-bound layer whose weight word is 16 beats.
With the prefetch FIFO (four bursts per weight master) a layer should run at max(compute, DDR). A stream's frame
padding also costs one cycle per padding word after the width converter (the trim drops it a word per cycle): the
chain's first weight frame is 18 words in a 20-word stride, so it runs at 20 cycles/frame, not 18.

    cd benchmarks && ../.venv/bin/python ddr_weights.py
"""
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import cpu_seconds, record

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "hw"))
from finn_nodes import external_mvau_chain, finn_execute  # noqa: E402
from test_shell_blocks import BUILD_ID, ShellBackend, _weight_shell  # noqa: E402

from xnorflow.hw.driver import Accelerator  # noqa: E402
from xnorflow.hw.shell_sim import ShellSim, harness_design  # noqa: E402

FRAMES = 64
CASES = {  # name: (widths, vectors per frame, (PE, SIMD) per layer)
    "two DDR layers, compute-bound": ((12, 6, 4), [2], ((2, 4), (2, 2))),
    "one DDR layer, DDR-bound": ((64, 32), [4], ((16, 32),)),
}


def measure(name: str, root: Path) -> dict:
    """Cycles per frame of one case over FRAMES frames (bit-exact against FINN), beside its two bounds."""
    widths, vecs, folds = CASES[name]
    rng = np.random.default_rng(0)
    ws = _weight_shell(root, rng, external_mvau_chain(rng, widths, vecs, folds))
    t0, c0 = time.perf_counter(), cpu_seconds()
    sim = ShellSim(harness_design(ws.design, ws.entry), ws.rtl, timing="ddr")
    with Accelerator(ws.runtime(), ShellBackend(sim)) as acc:
        for k in range(len(ws.entry["weights"])):
            acc.load_weights(ws.weight_values(k), k)
        cycles, exact = [], True
        for n in (FRAMES, 2 * FRAMES):
            xs = rng.integers(0, 4, (n, *vecs, widths[0]))
            exact &= bool(np.array_equal(acc.run_frames(xs), np.stack([finn_execute(ws.model, x) for x in xs])))
            cycles.append(acc.last_run.cycles)
    steady = (cycles[1] - cycles[0]) / FRAMES
    beats = max(w["stride"] * 8 // ws.entry["axi_bits"] for w in ws.entry["weights"])
    compute = max(ws.st.cycles.values())
    return {"bit_exact": exact, "cycles_per_frame": steady, "run_cycles": cycles, "compute_bound": compute,
            "ddr_bound": beats, "ratio_to_bound": round(steady / max(compute, beats), 3),
            "sim_wall_s": round(time.perf_counter() - t0, 1), "cpu_s": round(cpu_seconds() - c0, 1)}


def main() -> None:
    figures = {}
    with tempfile.TemporaryDirectory(prefix="xf-ddrw-") as tmp:
        for i, name in enumerate(CASES):
            figures[name] = measure(name, Path(tmp) / str(i))
            f = figures[name]
            print(f"{name}: {f['cycles_per_frame']:.1f} cycles/frame, bound max(compute {f['compute_bound']}, DDR "
                  f"{f['ddr_bound']}) -> ratio {f['ratio_to_bound']}, bit-exact {f['bit_exact']}")
    record("ddr_weights", {"frames": FRAMES, "build_id": BUILD_ID, "cases": figures})


if __name__ == "__main__":
    main()
