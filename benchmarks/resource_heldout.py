"""The resource model against Yosys on held-out layers of real designs: FINN's CNV-W1A1 and TFC-W1A1 (finn-examples'
folding and the board fit on the Pynq-Z1) and the registry's tiny models at 6000 cycles/frame. Per layer and per
edge FIFO: Yosys LUT (logic + LUTRAM) and BRAM36 beside the model's; the worst layers and each design's total.

    .venv/bin/python benchmarks/resource_heldout.py [--designs cnv_1w1a:finn tfc_1w1a:fit tiny-bireal ...]

A design is NET:finn (finn-examples' folding), NET:fit (the board fit) or a registry name (folding 6000).
"""
import argparse
import sys
import tempfile
from pathlib import Path

from common import cpu_seconds, record, yosys_luts
from finn_bnn_pynq import SHAPES, finn_config, hw_build
from qonnx.core.modelwrapper import ModelWrapper

from xnorflow.hw.accelerator import build_target
from xnorflow.hw.ops import module_sources
from xnorflow.hw.resource_model import SMALL, fifo_luts, within_target
from xnorflow.hw.resources import bram36, estimate_layers, synth_layers
from xnorflow.hw.stitch import stitch
from xnorflow.hw.synth import synthesize

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "hw"))
BOARD = "Pynq-Z1"
TINY = ("tiny-bireal", "tiny-reactnet", "tiny-real2bin", "tiny-hyperbnn")
DEFAULT = ("cnv_1w1a:finn", "cnv_1w1a:fit", "tfc_1w1a:finn", "tfc_1w1a:fit", *TINY)


def folded_design(design: str, tmp: Path) -> ModelWrapper:
    """The folded HW part of one held-out design (see the module docstring)."""
    if design in TINY:
        from test_accelerator import registry_graph
        build, folding = registry_graph(tmp / design, design), "6000"
    else:
        net, how = design.split(":")
        build = hw_build(net, tmp / design)
        folding = str(finn_config(build, net, tmp / f"{net}.folding.json")[0]) if how == "finn" else None
    build_target(build, "rtl", BOARD, folding)
    return ModelWrapper(str(build / "rtl" / "folded.onnx"))


def fifo_rows(st) -> dict[str, dict]:
    """Model vs Yosys of the design's edge FIFOs, one row per distinct (width, depth) with all its copies."""
    shapes = [(e.src_port.stream.bits, e.depth) for e in st.edges]
    rows = {}
    for w, d in sorted(set(shapes)):
        n, res = shapes.count((w, d)), synthesize("stream_fifo", module_sources("stream_fifo"), {"W": w, "DEPTH": d})
        rows[f"stream_fifo W={w} DEPTH={d} x{n}"] = {
            "op": "stream_fifo", "yosys_lut": n * yosys_luts(res), "model_lut": n * fifo_luts(w, d),
            "yosys_bram36": n * bram36(res), "model_bram36": 0.0}
    return rows


def compare(model: ModelWrapper, out: Path) -> dict:
    """Model vs Yosys for every layer and every edge FIFO of one folded design."""
    st = stitch(model, out)
    est = estimate_layers(model)
    rows = {name: {"op": st.layers[name].design.top, "yosys_lut": yosys_luts(c), "model_lut": est[name]["lut"],
                   "yosys_bram36": bram36(c), "model_bram36": est[name]["bram36"]}
            for name, c in synth_layers(st).items()}
    return summary(rows | fifo_rows(st))


def summary(rows: dict) -> dict:
    """Per-layer rows, the worst relative errors, and the totals."""
    for row in rows.values():
        row["error"] = round((row["model_lut"] - row["yosys_lut"]) / max(row["yosys_lut"], 1), 3)
        row["ok"] = within_target(row["model_lut"], row["yosys_lut"])
    total = {k: round(sum(r[k] for r in rows.values()), 1)
             for k in ("yosys_lut", "model_lut", "yosys_bram36", "model_bram36")}
    total["error"] = round((total["model_lut"] - total["yosys_lut"]) / total["yosys_lut"], 3)
    worst = sorted(rows, key=lambda n: -abs(rows[n]["error"]) if rows[n]["yosys_lut"] >= SMALL else 0)[:3]
    return {"layers": rows, "total": total, "worst": worst,
            "layers_within": f"{sum(r['ok'] for r in rows.values())}/{len(rows)}"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--designs", nargs="*", default=list(DEFAULT))
    args = parser.parse_args()
    cpu, figures = cpu_seconds(), {}
    with tempfile.TemporaryDirectory() as tmp:
        for design in args.designs:
            figures[design] = compare(folded_design(design, Path(tmp)), Path(tmp) / f"{design}.rtl")
            print(design, figures[design]["total"], figures[design]["layers_within"], flush=True)
    record("resource_heldout", figures | {"cpu_s": round(cpu_seconds() - cpu, 1)})


if __name__ == "__main__":
    main()
