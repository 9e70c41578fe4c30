"""Shortcut saturation at initialisation on the fixed +-8 grid vs the grid chosen from the data (training/ranges.py).

CIFAR-shaped random images (uniform pixels, ImageNet normalisation: CIFAR's loader), the recipe's first quantized
step's model (binary activations, ApproxSign) at its seeded initial weights in train mode, as `xnorflow train`
calibrates it. Per model: the chosen frac_bits, the fraction of the unclipped calibration values beyond the fixed
grid (frac_bits 4) and the chosen one, the same fractions inside the model running on each grid (clipped values
feed the later blocks), and the calibration's CPU seconds.
Run: cd benchmarks && ../.venv/bin/python ranges_init.py [MODEL ...] [--images N]
"""
import argparse
import time

import torch
from common import record

from xnorflow.training import ranges
from xnorflow.training.data import IMAGENET_MEAN, IMAGENET_STD, normalised_range
from xnorflow.training.layers import QuantSpec
from xnorflow.training.models.registry import BUILDERS

FIXED = QuantSpec().shortcut_frac_bits


def measure(name: str, images: int) -> dict:
    """Chosen grids and saturation fractions of model `name` on `images` random CIFAR-normalised images."""
    torch.manual_seed(0)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    batches = [(torch.rand(images, 3, 32, 32) - mean) / std]

    def initial(spec: QuantSpec) -> torch.nn.Module:
        torch.manual_seed(0)
        return BUILDERS[name](3, 10, spec.for_step("binact", "approx"))

    began = time.process_time()
    chosen = ranges.choose(initial, QuantSpec(), normalised_range(IMAGENET_MEAN, IMAGENET_STD), batches)
    seconds = time.process_time() - began
    probe = ranges.shortcut_counts(initial(QuantSpec(shortcut_bits=ranges.PROBE_BITS,
                                                     shortcut_frac_bits=ranges.PROBE_FRAC_BITS)), batches, 8)
    row = {"input_frac_bits": chosen.input_frac_bits, "shortcut_frac_bits": chosen.shortcut_frac_bits,
           "calibration_cpu_s": round(seconds, 2), "values": probe[1], "max_abs": round(probe[2], 3)}
    for frac in sorted({FIXED, chosen.shortcut_frac_bits}):
        counts, total, _ = ranges.shortcut_counts(initial(QuantSpec(shortcut_frac_bits=frac)), batches, 8)
        row[f"saturated_unclipped_f{frac}"] = round(probe[0][frac] / probe[1], 6)
        row[f"saturated_in_model_f{frac}"] = round(counts[frac] / total, 6)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("models", nargs="*", default=["reactnet-a-cifar", "bireal18-cifar", "real2bin18-cifar",
                                                  "hyperbnn18-cifar"])
    p.add_argument("--images", type=int, default=16)
    args = p.parse_args()
    torch.set_num_threads(1)
    record("ranges_init", {"images": args.images, "budget": ranges.BUDGET,
                           "models": {name: measure(name, args.images) for name in args.models}})


if __name__ == "__main__":
    main()
