"""Input and shortcut grids chosen from the data, per model, before training.

Both stay signed fixed point with a power-of-two scale 2^-frac_bits (training/quantizers.py FixedPointActQuant),
so every stage stays bit-exact as before; only frac_bits moves, i.e. where the 8 bits sit:
- input: the largest frac_bits whose range holds every value the data set's normalisation can produce
  (`DataBundle.pixel_range`): no pixel clips. The range follows exactly from the normalisation, so it needs no
  pass over the images, and a percentile would gain one bit of resolution only by clipping the darkest or
  brightest pixels of a channel, which are content, not outliers. CIFAR's ImageNet normalisation reaches 2.64,
  beyond the old [-2, 2), so its grid becomes [-4, 4) in steps of 1/32; digits and Fashion-MNIST keep [-2, 2).
- shortcut: one grid per model (the HW joins every residual add on one grid: build_flows/prepare.py
  check_join), the largest frac_bits under which at most `BUDGET` of the values entering the shortcut
  quantizers saturate, measured on a few training batches through the model of the recipe's first quantized
  step at its initial weights (train mode, as training starts), run on a grid wide enough not to clip.
"""
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import islice

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from xnorflow.errors import XnorflowError
from xnorflow.training import devices
from xnorflow.training.layers import QuantSpec, ShortcutQuant

BUDGET = 1e-3  # fraction of shortcut values allowed to saturate (zero gradient there) at initialisation
CALIBRATION_BATCHES = 8
FRAC_BITS = range(16, -9, -1)  # the candidates, finest first
PROBE_BITS, PROBE_FRAC_BITS = 24, 12  # the calibration forward's shortcut grid: +-2048 in steps of 2^-12
FRAC_FIELDS = ("input_frac_bits", "shortcut_frac_bits")  # what a run's ranges set in its QuantSpec


@dataclass(frozen=True)
class Ranges:
    """The chosen grids and what chose them (stored in the run's summary.json and printed by `xnorflow train`)."""

    input_frac_bits: int
    shortcut_frac_bits: int
    pixel_range: tuple[float, float]
    shortcut_saturation: float  # fraction of the calibration values outside the chosen shortcut grid
    shortcut_max_abs: float
    calibration_values: int


def saturating(x: Tensor, bits: int) -> Tensor:
    """Per frac_bits of FRAC_BITS, how many of `x` Brevitas' round half to even and clamp clip onto the signed `bits`
    grid of scale 2^-frac: x 2^frac >= 2^(b-1) - 1/2 (rounds above the top code) or < -2^(b-1) - 1/2 (below the
    bottom one); both bounds and x 2^frac are exact in float32, so one bucketize counts every candidate."""
    x = x.detach().flatten().float()
    scales = torch.exp2(-torch.tensor(FRAC_BITS, dtype=torch.float32, device=x.device))  # ascending
    half = 2.0 ** (bits - 1)
    return _beyond(x, (half - 0.5) * scales, right=True) + _beyond(-x, (half + 0.5) * scales, right=False)


def _beyond(x: Tensor, bounds: Tensor, right: bool) -> Tensor:
    """Per ascending bound, how many of x lie at or above it (right) or strictly above it (not right)."""
    slots = torch.bincount(torch.bucketize(x, bounds, right=right), minlength=len(bounds) + 1)
    return slots.flip(0).cumsum(0).flip(0)[1:].cpu()


def widest_frac_bits(counts: dict[int, int], total: int, budget: float, what: str) -> int:
    """The largest frac_bits whose saturating count is at most `budget` of `total`."""
    for frac in FRAC_BITS:
        if counts[frac] <= budget * total:
            return frac
    raise XnorflowError(f"no {what} grid of frac_bits {FRAC_BITS[-1]}..{FRAC_BITS[0]} holds the data "
                        f"({counts[FRAC_BITS[-1]]} of {total} values saturate even at the widest)",
                        "check the data's normalisation for inf/NaN or huge values, or train with --fixed-ranges")


def input_frac_bits(pixel_range: tuple[float, float], bits: int) -> int:
    """The finest input grid of `bits` bits that holds every value in `pixel_range` unclipped."""
    counts = saturating(torch.tensor(pixel_range), bits)
    return widest_frac_bits(dict(zip(FRAC_BITS, counts.tolist())), 2, 0.0, "input")


def shortcut_counts(model: nn.Module, batches: list[Tensor], bits: int) -> tuple[dict[int, int], int, float]:
    """Per candidate frac_bits, how many values entering the model's shortcut quantizers saturate; total; max |x|."""
    counts = torch.zeros(len(FRAC_BITS), dtype=torch.long)
    seen = {"total": 0, "max": 0.0}

    def count(_module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
        counts.add_(saturating(inputs[0], bits))
        seen["total"] += inputs[0].numel()
        seen["max"] = max(seen["max"], float(inputs[0].abs().max()))

    hooks = [m.register_forward_pre_hook(count) for m in model.modules() if isinstance(m, ShortcutQuant)]
    if not hooks:
        raise XnorflowError("the model has no shortcut quantizer to calibrate",
                            "train a quantized step (binact or binary), or pass --fixed-ranges")
    model.train()
    try:
        with torch.no_grad():
            for images in batches:
                model(images.to(devices.of(model)))
    finally:
        for hook in hooks:
            hook.remove()
    return dict(zip(FRAC_BITS, counts.tolist())), seen["total"], seen["max"]


def calibration_batches(dataset: Dataset, batch_size: int, seed: int,
                        batches: int = CALIBRATION_BATCHES) -> list[Tensor]:
    """The first `batches` shuffled training batches (order fixed by `seed`): the images calibration sees."""
    loader = DataLoader(dataset, batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    return [images for images, _ in islice(loader, batches)]


def choose(build: Callable[[QuantSpec], nn.Module], spec: QuantSpec, pixel_range: tuple[float, float],
           batches: list[Tensor], budget: float = BUDGET) -> Ranges:
    """Input grid from `pixel_range`, shortcut grid from `build(spec)`'s initial activations on `batches`."""
    inputs = input_frac_bits(pixel_range, spec.input_bits)
    probe = replace(spec, input_frac_bits=inputs, shortcut_bits=PROBE_BITS, shortcut_frac_bits=PROBE_FRAC_BITS)
    counts, total, peak = shortcut_counts(build(probe), batches, spec.shortcut_bits)
    shortcut = widest_frac_bits(counts, total, budget, "shortcut")
    return Ranges(inputs, shortcut, tuple(pixel_range), round(counts[shortcut] / total, 6), round(peak, 4), total)


def grid_text(bits: int, frac_bits: int) -> str:
    """'[-lo, hi) in steps of 2^-f' of a signed fixed-point grid."""
    top = 2.0 ** (bits - 1 - frac_bits)
    return f"[{-top:g}, {top:g}) in steps of 2^{-frac_bits}"


def describe(spec: QuantSpec, grids: dict) -> str:
    """The line `xnorflow train` prints: both grids and how they were chosen."""
    return (f"ranges {grids['chosen']}: input frac_bits {spec.input_frac_bits} "
            f"({grid_text(spec.input_bits, spec.input_frac_bits)}), shortcut frac_bits {spec.shortcut_frac_bits} "
            f"({grid_text(spec.shortcut_bits, spec.shortcut_frac_bits)}"
            + (f", {grids['shortcut_saturation']:.4%} of {grids['calibration_values']:,} values saturate at "
               "initialisation)" if "shortcut_saturation" in grids else ")"))
