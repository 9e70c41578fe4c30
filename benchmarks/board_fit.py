"""The seed networks fitted to each board (hw/board_fit.py): frames/s at the board clock, the bound that limits it,
modelled LUT/BRAM/URAM/DSP against the budget, and where the weights go; the resource model only (no RTL, no Yosys).

Per model (initial weights, seed 0): its hw-graph build (`xnorflow build --target hw-graph`) is made once into a
cache directory (argument --cache, default /tmp/xnorflow-board-fit) with its conversion CPU seconds, then folded for
every board in a child process (fit CPU seconds per board). Beside the fit, a model figure clearly labelled
`once_per_frame`: the frames/s of a fit in which each DDR layer reads its weights once per frame instead of once per
input vector (what mvu_core.sv's weight stream does today): what a weight buffer would give, which the RTL lacks; and on the
boards with UltraRAM, `with_uram`: a fit that may put weights in it (hw/resources.py Headroom: left out by default).

    cd benchmarks && ../.venv/bin/python board_fit.py [--cache DIR] [MODEL ...]
"""
import argparse
import json
import multiprocessing as mp
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import cpu_seconds, in_child, record  # noqa: E402

MODELS = ("reactnet-a", "reactnet-a-cifar", "bireal18-cifar", "bireal18")
BOARDS = ("Pynq-Z2", "Ultra96", "KV260", "ZCU104")
CONVERSION = "conversion.json"     # in a cached build: the CPU seconds its hw-graph build took
CACHE = "/tmp/xnorflow-board-fit"


def cached_graph(name: str, cache: Path) -> tuple[Path, float]:
    """The hw-graph build of `name` in `cache` (built when missing) and the CPU seconds its conversion took."""
    from xnorflow.build_flows.pipeline import build

    out = cache / name
    if not (out / CONVERSION).is_file():
        start = cpu_seconds()
        build(name, out)
        (out / CONVERSION).write_text(json.dumps({"cpu_seconds": round(cpu_seconds() - start, 1)}))
    return out, json.loads((out / CONVERSION).read_text())["cpu_seconds"]


def fit_one(part, board_name: str) -> dict:
    """Fit `part` (a fresh copy) to one board: the report's summary, the DDR layers, and the fit's CPU seconds."""
    from qonnx.core.modelwrapper import ModelWrapper

    from xnorflow.errors import XnorflowError
    from xnorflow.hw.board_fit import fit, fit_report
    from xnorflow.hw.boards import board
    from xnorflow.hw.resources import Headroom

    b, start = board(board_name), cpu_seconds()
    try:
        model = fit(ModelWrapper(part.model.__deepcopy__()), b)[0]
    except XnorflowError as err:
        return {"error": str(err), "fit_cpu_seconds": round(cpu_seconds() - start, 1)}
    rep = fit_report(model, b)
    kinds = [r["memory"] for r in rep["layers"].values() if "memory" in r]
    return {k: rep[k] for k in ("frames_per_s", "bound", "compute_cycles", "ddr_cycles", "use", "budget")} | {
        "memory_kinds": {k: kinds.count(k) for k in sorted(set(kinds))},
        "ddr_weight_mbit": round(sum(r["weight_bits"] for r in rep["layers"].values()
                                     if r.get("memory") == "ddr") / 1e6, 3),
        "fit_cpu_seconds": round(cpu_seconds() - start, 1),
        "once_per_frame_frames_per_s": model_figure(part, b, Headroom(), once_per_frame=True),
        "with_uram_frames_per_s": model_figure(part, b, Headroom(uram=1.0), once_per_frame=False) if b.uram else None}


def model_figure(part, b, room, once_per_frame: bool) -> float | None:
    """Frames/s of a fit with `room` whose DDR layers read their weights once per frame or per vector; None if none
    fits."""
    from qonnx.core.modelwrapper import ModelWrapper

    from xnorflow.errors import XnorflowError
    from xnorflow.hw.board_fit import design_cycles, fit
    from xnorflow.hw.resources import budget_of

    try:
        model = fit(ModelWrapper(part.model.__deepcopy__()), b, room, once_per_frame)[0]
    except XnorflowError:
        return None
    return round(b.clock_mhz * 1e6 / max(design_cycles(model, budget_of(b, room), once_per_frame)), 2)


def ddr_ceilings(part, board_name: str) -> dict[str, float]:
    """Frames/s of the DDR alone if every weight streamed from it (compute and on-chip memory aside): read once per
    input vector (the RTL) and once per frame (model figure)."""
    from qonnx.custom_op.registry import getCustomOp

    from xnorflow.hw.board_fit import stream_bytes, weight_nodes
    from xnorflow.hw.boards import board

    b, nodes = board(board_name), [getCustomOp(n) for n in weight_nodes(part)]
    per_second = b.ddr_bytes_per_cycle * b.clock_mhz * 1e6
    return {"per_vector": round(per_second / sum(stream_bytes(n) for n in nodes), 1),
            "once_per_frame": round(per_second / sum(stream_bytes(n, True) for n in nodes), 1)}


def measure_one(arg: str, queue: mp.Queue) -> None:
    """`name|cache`: build (or reuse) the hw graph, fit it to every board; put the figures on `queue`."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from finn.util.settings import initialize_dummy_settings
    from xnorflow.build_flows.hw_graph import split_host
    from xnorflow.hw.board_fit import weight_nodes
    from xnorflow.hw.folding import split_forks
    from xnorflow.hw.ops.mvau import weight_stream_bits

    name, cache = arg.split("|")
    initialize_dummy_settings()
    try:
        out, conversion = cached_graph(name, Path(cache))
    except Exception as err:  # a model that does not build is a figure too
        queue.put({"error": str(err).splitlines()[0]})
        return
    rep = json.loads((out / "report.json").read_text())
    part = split_forks(split_host(ModelWrapper(str(out / "hw.onnx")))[1])
    queue.put({"weight_mbit": round(rep["weight_memory_bits"] / 1e6, 3),
               "stream_mbit_per_frame": round(sum(weight_stream_bits(getCustomOp(n)) for n in weight_nodes(part)) / 1e6,
                                              1),
               "ddr_ceiling_frames_per_s": {b: ddr_ceilings(part, b) for b in BOARDS},
               "threshold_mbit": round((rep["threshold_memory_bits"] + rep.get("requantizer_memory_bits", 0)) / 1e6,
                                       3),
               "conversion_cpu_seconds": conversion, "boards": {b: fit_one(part, b) for b in BOARDS}})


def table(models: dict) -> None:
    """One line per model and board."""
    print(f"{'model':<17} {'board':<8} {'fps':>9} {'bound':<15} {'LUT':>15} {'BRAM36':>11} {'URAM':>7} "
          f"{'DSP':>10} {'DDR Mbit':>9} {'once/frame fps':>15} {'URAM fps':>9} {'fit CPU s':>9}")
    for name, m in models.items():
        for bname, f in m.get("boards", {"-": {"error": m.get("error")}}).items():
            if bname in m.get("ddr_ceiling_frames_per_s", {}):
                ceil = m["ddr_ceiling_frames_per_s"][bname]
                print(f"{'':<17} {bname:<8} DDR alone, every weight streamed: {ceil['per_vector']:,.1f} fps read per "
                      f"vector, {ceil['once_per_frame']:,.1f} fps read once per frame (model figures)")
            if "error" in f:
                print(f"{name:<17} {bname:<8} {f['error']}")
                continue
            u, c = f["use"], f["budget"]
            print(f"{name:<17} {bname:<8} {f['frames_per_s']:>9,.1f} {f['bound']:<15} "
                  f"{u['lut']:>7,.0f}/{c['lut']:<7,.0f} {u['bram36']:>5g}/{c['bram36']:<5g} "
                  f"{u['uram']:>3g}/{c['uram']:<3g} {u['dsp']:>4g}/{c['dsp']:<5g} {f['ddr_weight_mbit']:>9.2f} "
                  f"{f['once_per_frame_frames_per_s'] or 0:>15,.1f} {f['with_uram_frames_per_s'] or 0:>9,.1f} "
                  f"{f['fit_cpu_seconds']:>9}")


def main(names: list[str], cache: str) -> dict:
    """Measure every model in its own child process; print the table; record benchmarks/results/board_fit.json."""
    models = {}
    for name in names:
        models[name] = in_child(measure_one, f"{name}|{cache}")
        print(name, "done", flush=True)
    payload = record("board_fit", {"cache": cache, "models": models})
    table(models)
    return payload


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=CACHE)
    parser.add_argument("models", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    main(args.models, args.cache)
