"""Training step time of each binary model vs the float model of the same shape (target ratio <= 1.5x)."""
import argparse
import time

import torch
import torch.nn.functional as F
from common import record

from xnorflow.training.layers import QuantSpec
from xnorflow.training.models.catalog import REGISTRY
from xnorflow.training.models.registry import build_model


def step_time(name: str, precision: str, batch: int, repeats: int) -> float:
    """Median seconds of forward + backward + Adam step at the model's input size."""
    row = REGISTRY[name]
    model = build_model(name, spec=QuantSpec(precision=precision)).train()
    opt = torch.optim.Adam(model.parameters())
    x = torch.randn(batch, row.in_channels, row.input_size, row.input_size)
    y = torch.randint(0, row.num_classes, (batch,))
    times = []
    for _ in range(repeats + 1):
        began = time.perf_counter()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        opt.zero_grad()
        times.append(time.perf_counter() - began)
    return sorted(times[1:])[len(times[1:]) // 2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--models", nargs="*", default=["tiny-bireal", "tiny-reactnet", "bireal18-cifar",
                                                    "reactnet-a-cifar"])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    rows = {}
    for name in args.models:
        binary, real = (step_time(name, prec, args.batch, args.repeats) for prec in ("binary", "float"))
        rows[name] = {"binary_s": round(binary, 4), "float_s": round(real, 4), "ratio": round(binary / real, 2)}
    record("step_time", {"batch": args.batch, "models": rows, "target": "ratio <= 1.5"})


if __name__ == "__main__":
    main()
