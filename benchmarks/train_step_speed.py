"""Training step CPU time of each family's binary recipe step vs the float step of the same shape (target <= 1.5x).

Fashion-MNIST shaped random data (1x28x28, batch 256), one thread, CPU seconds (time.process_time) per
forward + backward + optimizer step; the models' steps are interleaved so that machine noise hits all alike.
The binary step is the recipe's last (fully binary) step, with its estimator and optimizer but without a
teacher; the float step is the `float` recipe's. Run: python benchmarks/train_step_speed.py
"""
import argparse
import statistics
import time
from collections.abc import Callable

import torch
from common import record

from xnorflow.training.layers import QuantSpec
from xnorflow.training.losses import objective
from xnorflow.training.models.registry import build_model
from xnorflow.training.recipes import RECIPES, Step
from xnorflow.training.trainer import _optimizer, _set_warmup

FAMILIES = {"bireal": "tiny-bireal", "reactnet": "tiny-reactnet", "real2bin": "tiny-real2bin",
            "hyperbnn": "tiny-hyperbnn"}
SIZE, CHANNELS, CLASSES = 28, 1, 10


def make_step(name: str, step: Step, images: torch.Tensor, target: torch.Tensor) -> Callable[[], float]:
    """A closure running one training step of model `name` at recipe step `step`; returns its CPU seconds."""
    model = build_model(name, CLASSES, CHANNELS, SIZE, QuantSpec().for_step(step.precision, step.estimator)).train()
    optimizer = _optimizer(model, step)

    def run() -> float:
        began = time.process_time()
        if step.estimator == "warmup":
            _set_warmup(model, step, 0, 1)
        loss, _ = objective(model, None, images, target, step.kd, step.attention_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return time.process_time() - began

    return run


def measure(families: list[str], batch: int, warmup: int, repeats: int) -> dict[str, dict[str, float]]:
    """Median CPU seconds per step of every family's binary and float step, the steps interleaved."""
    torch.manual_seed(0)
    images = torch.randn(batch, CHANNELS, SIZE, SIZE)
    target = torch.randint(0, CLASSES, (batch,))
    steps = {(f, kind): make_step(FAMILIES[f], step, images, target) for f in families
             for kind, step in (("binary", RECIPES[f][-1]), ("float", RECIPES["float"][0]))}
    times: dict[tuple[str, str], list[float]] = {key: [] for key in steps}
    for i in range(warmup + repeats):
        for key, run in steps.items():
            seconds = run()
            if i >= warmup:
                times[key].append(seconds)
    rows = {}
    for f in families:
        binary, real = (statistics.median(times[(f, kind)]) for kind in ("binary", "float"))
        rows[FAMILIES[f]] = {"recipe": f, "estimator": RECIPES[f][-1].estimator, "binary_s": round(binary, 4),
                             "float_s": round(real, 4), "ratio": round(binary / real, 2)}
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = measure(args.families, args.batch, args.warmup, args.repeats)
    for name, row in rows.items():
        print(f"{name:15s} {row['recipe']:9s} {row['estimator']:7s} binary {row['binary_s']:.4f} s  "
              f"float {row['float_s']:.4f} s  ratio {row['ratio']:.2f}")
    record("train_step_speed", {"input": f"{CHANNELS}x{SIZE}x{SIZE}", "batch": args.batch, "threads": 1,
                                "clock": "process_time", "repeats": args.repeats, "models": rows,
                                "target": "ratio <= 1.5"})


if __name__ == "__main__":
    main()
