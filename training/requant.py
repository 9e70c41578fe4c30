"""Integer-exact requantizers: snap the float parameters in front of every rounding point off its boundaries.

A rounding point (a shortcut-grid quantizer or a sign) sees u = a k + b per channel, with k an exact integer
(a binary conv's popcount, an 8-bit conv's accumulator, a grid code) and a, b float32 BatchNorm/bias/scale
parameters. Brevitas, the QONNX graph (ONNX Runtime) and FINN's integer thresholds each evaluate a k + b in
float32 in their own order, so where a k + b lies within a few ulps of a boundary they round apart: a trained
Bi-Real Net put one value 1.1e-5 of a grid step below .5 and FINN's threshold on the other side. DESIGN's
contract asks for an eval model that is integer-exact; neither Brevitas nor FINN has a pass for it (FINN checks
its arrows with a tolerance), so this module makes one. After training, per channel:

- affine to a grid (BN after a binary or 8-bit conv): (a, b) -> (n/q, (j + c)/q), c = 1/2 for even q, else 0.
  Then a k + b = (n k + j + c)/q is never within 1/(2q) of a .5 boundary, and no boundary within 1/(2n) of an
  integer k, for every integer k; q is bounded so that 1/(2q) exceeds twice the float32 noise (`SNAP_MARGIN`)
  of the largest term, and n/q is the best such approximation of a (the integer requantizer of Jacob et al.,
  CVPR 2018, with a rational instead of a dyadic multiplier). Twice, because FINN's integer threshold
  t = (boundary - b) / a is a float32 value with noise of its own: a margin of one NOISE left thresholds near
  the top of a wide popcount (bireal18-cifar's 3x3x512 convs, |t| ~ 2837) that close to an integer;
- affine through zero (R2B's scale and PReLU, Eq. 3): the same with b = 0 and odd q;
- sign of an affine of grid codes (RSign's shift, ReActNet Eq. 1; R2B's BN before the sign): the zero crossing
  moves to the middle between its two codes, which leaves the function of every code unchanged;
- RPReLU on grid codes (ReActNet Eq. 2): its output shift moves by the least amount that keeps every code's
  value `MARGIN` off a boundary.
The model's function moves by at most 1/(2q) of a grid step per value (a few 1e-4 typically), and every later
arrow (QONNX, streamlined, HW graph, RTL) is then exact on every input, not only on the frames checked.
"""
from dataclasses import dataclass, field

import numpy as np
import torch
from brevitas.nn import QuantConv2d
from torch import nn

from xnorflow.training.layers import BinaryConv2d, LearnableBias, QuantSpec, RPReLU, Stem
from xnorflow.training.models.bireal import RealDownsample
from xnorflow.training.models.hyperbnn import HyperBlock
from xnorflow.training.models.reactnet import ReActBlock
from xnorflow.training.models.real2bin import Real2BinBlock

NOISE = 2.0 ** -20  # float32 error of a few chained ops, relative to the largest term (8 ulps of 2^-23)
SNAP_MARGIN = 2.0 * NOISE  # distance kept between a k + b and a boundary, relative to the largest term
MARGIN = 2.0 ** -12  # RPReLU: distance kept between any code's value and a rounding boundary, in grid steps


@dataclass
class SnapReport:
    """What snapping changed: channels touched, the largest relative change of a multiplier, and any channel
    whose multiplier is too small for a float32-safe margin (snapped to the nearest 1/q regardless)."""

    channels: int = 0
    max_rel_change: float = 0.0
    unsafe: list[str] = field(default_factory=list)

    def add(self, name: str, a: np.ndarray, a_new: np.ndarray, unsafe: np.ndarray) -> None:
        """Record one site's per-channel multipliers before and after."""
        self.channels += a.size
        rel = np.abs(a_new - a) / np.maximum(np.abs(a), np.finfo(np.float32).tiny)
        self.max_rel_change = max(self.max_rel_change, float(rel.max(initial=0.0)))
        self.unsafe += [f"{name}[{c}]" for c in np.flatnonzero(unsafe)]


def best_fraction(a: np.ndarray, q_max: np.ndarray, odd: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per channel the n/q (q <= q_max, q odd if asked) nearest |a|, as (n, q); n may be 0 only if a is."""
    q = np.arange(1, int(q_max.max()) + 1, dtype=np.float64)
    mag = np.abs(a)[:, None]
    n = np.round(mag * q)
    err = np.abs(mag - n / q)
    err[(q > q_max[:, None]) | ((q % 2 == 0) if odd else False) | ((n == 0) & (mag > 0))] = np.inf
    best = np.argmin(err, axis=1)
    n, q = n[np.arange(a.size), best], q[best]
    none = ~np.isfinite(err[np.arange(a.size), best])  # a below 1/q_max: the nearest 1/q, margin below budget
    q = np.where(none, np.maximum(1.0, np.round(1.0 / np.maximum(np.abs(a), 1e-30))), q)
    if odd:
        q = np.where(none & (q % 2 == 0), q + 1, q)
    return np.where(none, 1.0, n), q


def lattice(a: np.ndarray, b: np.ndarray, top: float, odd: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a', b', unsafe): a' = n/q nearest a, b' = (j + c)/q nearest b (b' = 0 with odd q when b is 0)."""
    largest = top + np.abs(b)
    q_max = np.maximum(1.0, np.floor(1.0 / (2.0 * SNAP_MARGIN * largest)))
    if odd:
        q_max = np.where(q_max % 2 == 0, q_max - 1, q_max)
    n, q = best_fraction(a, q_max, odd)
    c = np.where(q % 2 == 0, 0.5, 0.0)
    b_new = np.zeros_like(b) if odd else (np.round(b * q - c) + c) / q
    return np.sign(a) * n / q, b_new, q > q_max


def bn_affine(bn: nn.BatchNorm2d) -> tuple[np.ndarray, np.ndarray]:
    """Eval BatchNorm as y = A x + B, in float64."""
    inv = 1.0 / np.sqrt(bn.running_var.double().numpy() + bn.eps)
    scale = bn.weight.detach().double().numpy() * inv
    return scale, bn.bias.detach().double().numpy() - bn.running_mean.double().numpy() * scale


def set_bn_affine(bn: nn.BatchNorm2d, scale: np.ndarray, shift: np.ndarray) -> None:
    """Make eval BatchNorm compute exactly x * scale + shift: mean 0 and a variance with var + eps == 1.0f."""
    var, one = np.float32(1.0 - bn.eps), np.float32(1.0)
    while (total := np.float32(var + np.float32(bn.eps))) != one:  # a few ulps at most
        var = np.nextafter(var, np.float32(2.0) if total < one else np.float32(0.0))
    with torch.no_grad():
        bn.running_mean.zero_()
        bn.running_var.fill_(float(var))
        bn.weight.copy_(torch.from_numpy(scale))
        bn.bias.copy_(torch.from_numpy(shift))


@dataclass
class Accumulator:
    """A conv's output per channel as unit * k + offset, k an integer (popcount P or 8-bit accumulator)."""

    unit: np.ndarray
    offset: np.ndarray


def conv_accumulator(conv: QuantConv2d, in_step: float | None) -> Accumulator:
    """Binary conv on {-1,+1} (in_step None): alpha (2P - K); 8-bit conv on a grid of step in_step: s_w s_in k."""
    scale = conv.quant_weight().scale.detach().double().flatten().numpy()
    scale = np.broadcast_to(scale, (conv.out_channels,)).copy()
    if in_step is None:
        taps = conv.in_channels * int(np.prod(conv.kernel_size)) // conv.groups
        return Accumulator(2.0 * scale, -taps * scale)
    return Accumulator(scale * in_step, np.zeros_like(scale))


def snap_bn_to_grid(name: str, bn: nn.BatchNorm2d, acc: Accumulator, grid: float, top: float,
                    report: SnapReport) -> None:
    """BN(unit k + offset) / grid = a k + b -> the lattice (a', b'), written back into the BatchNorm."""
    scale, shift = bn_affine(bn)
    a, b = acc.unit * scale / grid, (shift + acc.offset * scale) / grid
    a_new, b_new, unsafe = lattice(a, b, top)
    scale_new = a_new * grid / acc.unit
    set_bn_affine(bn, scale_new, b_new * grid - acc.offset * scale_new)
    report.add(name, a, a_new, unsafe)


def half_code(crossing: np.ndarray, increasing: np.ndarray) -> np.ndarray:
    """The zero crossing (in codes) moved midway between its codes, keeping every code's sign (sign(0) = +1)."""
    return np.where(increasing, np.ceil(crossing) - 0.5, np.floor(crossing) + 0.5)


def snap_sign_bias(bias: LearnableBias, grid: float) -> None:
    """sign(c grid + beta) over codes c (RSign, ReActNet Eq. 1): beta to a half code, same signs."""
    beta = bias.bias.detach().double().numpy()
    with torch.no_grad():
        bias.bias.copy_(torch.from_numpy(-grid * half_code(-beta / grid, np.ones_like(beta, bool))))


def snap_bn_sign(bn: nn.BatchNorm2d, grid: float) -> None:
    """sign(BN(c grid)) over codes c (R2B's BN before the sign): the crossing to a half code, same signs."""
    scale, shift = bn_affine(bn)
    live = scale != 0
    crossing = -shift / np.where(live, scale * grid, 1.0)
    shift_new = np.where(live, -scale * grid * half_code(crossing, scale > 0), shift)
    set_bn_affine(bn, scale, shift_new)


def least_shift(values: np.ndarray, margin: float) -> np.ndarray:
    """Per row, the smallest |d| such that every value + d is >= margin off k + 1/2 (rows of < 1/(2 margin))."""
    bad = np.sort(np.mod(1.0 - values, 1.0) - 0.5, axis=1)  # shifts that put a value on a boundary, [-1/2, 1/2)
    ends = np.concatenate([bad - 1.0, bad, bad + 1.0], axis=1)  # the circle unrolled, still sorted per row
    step = margin * 1.0001
    candidates = np.concatenate([np.zeros((len(bad), 1)), bad - step, bad + step], axis=1)
    rows = 4.0 * np.arange(len(bad))[:, None]  # rows apart, so one searchsorted serves all
    flat = (ends + rows).ravel()
    at = (candidates + rows).ravel()
    right = np.searchsorted(flat, at).clip(1, flat.size - 1)
    dist = np.minimum(np.abs(at - flat[right - 1]), np.abs(flat[right] - at)).reshape(candidates.shape)
    cost = np.where(dist >= margin, np.abs(candidates), np.inf)
    return candidates[np.arange(len(bad)), np.argmin(cost, axis=1)]


def snap_rprelu(rp: RPReLU, grid: float, top: float) -> None:
    """RPReLU over codes c: u(c) = (prelu(c grid + gamma) + zeta) / grid; zeta moves by the least safe shift."""
    gamma = rp.shift_in.bias.detach().double().numpy().reshape(-1, 1)
    zeta = rp.shift_out.bias.detach().double().numpy().reshape(-1, 1)
    slope = rp.prelu.weight.detach().double().numpy().reshape(-1, 1)
    codes = np.arange(-top, top)[None, :]
    x = codes * grid + gamma
    u = (np.where(x >= 0, x, slope * x) + zeta) / grid
    shift = least_shift(u, MARGIN)
    with torch.no_grad():
        rp.shift_out.bias.copy_(torch.from_numpy((zeta[:, 0] + shift * grid).reshape(rp.shift_out.bias.shape)))


def snap_scaled_prelu(name: str, block: nn.Module, grid: float, top: float, report: SnapReport) -> None:
    """R2B: prelu(alpha p g) / grid over p = 2P - K: g and the slope onto odd-q lattices through zero (Eq. 3)."""
    alpha = block.conv.conv.quant_weight().scale.detach().double().flatten().numpy()
    g = block.scale.detach().double().flatten().numpy()
    slope = block.prelu.weight.detach().double().numpy()
    zero = np.zeros_like(g)
    a_new, _, unsafe = lattice(alpha * g / grid, zero, top, odd=True)
    neg_new, _, unsafe_neg = lattice(slope * a_new, zero, top, odd=True)
    with torch.no_grad():
        block.scale.copy_(torch.from_numpy(a_new * grid / alpha).reshape(block.scale.shape))
        block.prelu.weight.copy_(torch.from_numpy(np.where(a_new != 0, neg_new / np.where(a_new != 0, a_new, 1), slope)))
    report.add(name, alpha * g / grid, a_new, unsafe | unsafe_neg)


def snap_requantizers(model: nn.Module, spec: QuantSpec) -> SnapReport:
    """Snap every rounding point of a fully binary registry model (in place; see the module docstring)."""
    report = SnapReport()
    if spec.precision != "binary":
        return report
    grid, top = 2.0 ** -spec.shortcut_frac_bits, 2.0 ** (spec.shortcut_bits - 1)
    for name, m in model.named_modules():
        if isinstance(m, Stem):
            snap_bn_to_grid(name, m.bn, conv_accumulator(m.conv, 2.0 ** -spec.input_frac_bits), grid, top, report)
        elif isinstance(m, RealDownsample):
            snap_bn_to_grid(name, m.bn, conv_accumulator(m.conv, grid), grid, top, report)
        elif isinstance(m, BinaryConv2d):
            snap_bn_to_grid(name, m.bn, conv_accumulator(m.conv.conv, None), grid, top, report)
        elif isinstance(m, HyperBlock):
            acc = conv_accumulator(m.conv.conv, None)
            if m.dpconv is not None:
                dp = conv_accumulator(m.dpconv.conv, grid)
                acc = Accumulator(np.concatenate([acc.unit, dp.unit]), np.concatenate([acc.offset, dp.offset]))
            snap_bn_to_grid(name, m.bn, acc, grid, top, report)
        elif isinstance(m, ReActBlock):
            snap_sign_bias(m.rsign1, grid)
            snap_sign_bias(m.rsign2, grid)
        elif isinstance(m, RPReLU):
            snap_rprelu(m, grid, top)
        elif isinstance(m, Real2BinBlock):
            snap_bn_sign(m.bn, grid)
            snap_scaled_prelu(name, m, grid, top, report)
    return report
