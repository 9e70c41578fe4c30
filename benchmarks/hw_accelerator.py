"""Stitched accelerators in Verilator: cycles/frame vs the analytical bound (target <= 1.05) and
simulated cycles per wall second (target >= 1 M), per model, board-fitted folding by default."""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import record

from xnorflow.build_flows.export import export
from xnorflow.build_flows.hw_graph import build_hw_graph
from xnorflow.hw.accelerator import build_target
from xnorflow.training.models.registry import REGISTRY, build_model

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "build_flows"))
from probes import randomize_bn  # noqa: E402

MODELS = ("tiny-bireal", "tiny-reactnet", "bireal18-cifar")


def run(name: str, board: str, folding: str | None, frames: int) -> dict:
    """Export (random weights, BN stats), hw-graph, then the sim target; its figures."""
    row = REGISTRY[name]
    torch.manual_seed(0)
    model = build_model(name)
    randomize_bn(model, torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as tmp:
        onnx = Path(tmp) / "m.onnx"
        export(model, (1, row.in_channels, row.input_size, row.input_size), onnx)
        build_hw_graph(onnx, Path(tmp) / "build")
        began = time.perf_counter()
        sim = build_target(Path(tmp) / "build", "sim", board, folding, frames)["sim"]
    return {**sim, "board": board, "folding": folding or "fitted", "rtl_and_sim_s": round(time.perf_counter() - began, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--board", default="Pynq-Z2")
    parser.add_argument("--folding", default=None, help="cycles/frame target or FINN JSON (default: fit the board)")
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    figures = {}
    for name in args.models:
        try:
            figures[name] = run(name, args.board, args.folding, args.frames)
        except Exception as exc:  # a model the flow cannot take yet is reported, not hidden
            figures[name] = {"error": str(exc)[:300]}
    record("hw_accelerator", figures)


if __name__ == "__main__":
    main()
