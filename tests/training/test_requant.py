"""Requantizer snapping: every reachable integer input lands a float32-safe margin off its rounding boundary."""
import numpy as np
import pytest
import torch

from xnorflow.training.layers import QuantSpec
from xnorflow.training.models.registry import build_model
from xnorflow.training.requant import (MARGIN, NOISE, SNAP_MARGIN, bn_affine, conv_accumulator, lattice, least_shift,
                                       snap_requantizers)

pytestmark = pytest.mark.fast  # the everyday tier: `make test-fast`

SPEC = QuantSpec()
GRID, TOP = 2.0 ** -SPEC.shortcut_frac_bits, 2.0 ** (SPEC.shortcut_bits - 1)


def boundary_distance(u: np.ndarray) -> np.ndarray:
    """Distance of each value from the nearest k + 1/2."""
    return np.abs(u - np.floor(u) - 0.5)


def test_lattice_keeps_every_integer_off_the_boundaries():
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.uniform(2e-2, 4.0, 400), -rng.uniform(2e-2, 4.0, 100), rng.uniform(5e-4, 2e-2, 100)])
    b = np.concatenate([rng.uniform(-3000.0, 3000.0, 500), rng.uniform(-100.0, 100.0, 100)])
    a_new, b_new, unsafe = lattice(a, b, TOP)
    assert not unsafe.any()
    k = np.arange(-20000, 20001)[None, :]
    u = a_new[:, None] * k + b_new[:, None]
    live = np.abs(u) <= TOP  # only values inside the grid are rounded
    assert (boundary_distance(u)[live] >= SNAP_MARGIN * (TOP + np.abs(b))[:, None].repeat(k.size, 1)[live]).all()
    assert np.max(np.abs(a_new - a) / np.abs(a)) < 1e-2
    assert np.max(np.abs(b_new - b)) <= 0.5


def test_lattice_flags_a_multiplier_too_small_for_a_safe_margin():
    a_new, _, unsafe = lattice(np.array([1e-7, 0.5]), np.array([0.0, 0.0]), TOP)
    assert unsafe.tolist() == [True, False] and a_new[0] > 0


def test_lattice_through_zero_uses_odd_denominators():
    a = np.array([0.75, 1.0 / 3.0, 2.5, 1e-3])
    a_new, b_new, _ = lattice(a, np.zeros_like(a), TOP, odd=True)
    assert (b_new == 0).all()
    p = np.arange(-4097, 4098)[None, :]
    assert boundary_distance(a_new[:, None] * p).min() >= 0.9 * NOISE * TOP


def test_least_shift_clears_a_value_on_the_boundary():
    values = np.array([[0.5, 3.2, -7.49999, 12.0], [0.1, 0.2, 0.3, 0.4]])
    shift = least_shift(values, MARGIN)
    assert abs(shift[0]) <= 2 * MARGIN and boundary_distance(values[0] + shift[0]).min() >= MARGIN
    assert shift[1] == 0.0  # already clear: untouched
    dense = np.random.default_rng(1).uniform(-128, 128, (64, 256))
    shift = least_shift(dense, MARGIN)
    assert (boundary_distance(dense + shift[:, None]) >= MARGIN * 0.9999).all()


def test_snapped_binary_conv_bn_is_off_every_boundary_for_every_popcount(bireal_on_boundary):
    model = bireal_on_boundary()
    snap_requantizers(model, SPEC)
    binconv = model.blocks[0].binconv
    acc = conv_accumulator(binconv.conv.conv, None)
    scale, shift = bn_affine(binconv.bn)
    taps = binconv.conv.conv.in_channels * 9
    popcount = np.arange(taps + 1)[None, :]
    u = ((acc.unit[:, None] * popcount + acc.offset[:, None]) * scale[:, None] + shift[:, None]) / GRID
    live = np.abs(u) <= TOP
    bound = 0.9 * NOISE * (TOP + np.abs(u[:, :1]))  # the lattice's budget: the grid top plus |b| (u at P = 0)
    assert (boundary_distance(u) >= bound)[live].all()


def test_snapped_adversarial_bn_rounds_the_same_in_float32_as_exactly(bireal_on_boundary):
    """Brevitas' own float32 forward agrees with float64 on every popcount once snapped, not before."""
    def disagreements(model: torch.nn.Module) -> int:
        binconv = model.blocks[0].binconv
        taps = binconv.conv.conv.in_channels * 9
        p = torch.arange(-taps, taps + 1, 2, dtype=torch.float64)
        alpha = binconv.conv.conv.quant_weight().scale.detach().flatten().double()
        x = (alpha[None, :, None, None] * p[:, None, None, None]).expand(-1, -1, 1, 1)
        y32 = binconv.bn(x.float().contiguous()).double() / GRID
        y64 = binconv.bn.double()(x.contiguous()) / GRID
        binconv.bn.float()
        return int((torch.round(y32) != torch.round(y64)).sum())

    model = bireal_on_boundary()
    assert disagreements(model) > 0
    snap_requantizers(model, SPEC)
    assert disagreements(model) == 0


def sign_inputs(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The affines in front of a sign that see grid codes: RSign shifts (ReActNet), BNs before R2B's sign."""
    return {n: m for n, m in model.named_modules()
            if n.endswith(("rsign1", "rsign2")) or (n.endswith(".bn") and n.count(".") == 2)}


def on_every_code(m: torch.nn.Module) -> torch.Tensor:
    """m applied to every grid code in every channel, in grid steps."""
    c = m.num_features if hasattr(m, "num_features") else m.bias.shape[1]
    with torch.no_grad():
        return m(torch.arange(-TOP, TOP).view(-1, 1, 1, 1).expand(-1, c, 1, 1) * GRID) / GRID


@pytest.mark.parametrize("name", ["tiny-reactnet", "tiny-real2bin"])
def test_sign_points_keep_every_code_and_move_half_a_code_off(name):
    torch.manual_seed(3)
    model = build_model(name).eval()
    points = sign_inputs(model)
    assert points
    with torch.no_grad():
        for m in points.values():  # crossings exactly on codes, and anywhere between
            (m.bias if hasattr(m, "num_features") else m.bias).copy_(torch.randint(-40, 40, m.bias.shape) * GRID / 4)
    before = {n: on_every_code(m) >= 0 for n, m in points.items()}
    snap_requantizers(model, SPEC)
    for n, m in points.items():
        y = on_every_code(m)
        assert torch.equal(y >= 0, before[n]), n
        assert y.abs().min() >= 0.5 - 1e-4, n


def test_rprelu_and_scaled_prelu_values_clear_the_boundaries():
    """ReActNet's RPReLU over every code, and R2B's scale-PReLU over every popcount, after snapping."""
    torch.manual_seed(4)
    react, r2b = build_model("tiny-reactnet").eval(), build_model("tiny-real2bin").eval()
    snap_requantizers(react, SPEC)
    snap_requantizers(r2b, SPEC)
    for n, m in react.named_modules():
        if n.endswith(("rprelu1", "rprelu2")):
            c = m.prelu.num_parameters
            with torch.no_grad():
                x = torch.arange(-TOP, TOP).view(-1, 1, 1, 1).expand(-1, c, 1, 1).double() * GRID
                u = m.shift_out.double()(m.prelu.double()(m.shift_in.double()(x))) / GRID
            assert boundary_distance(u.numpy()).min() >= MARGIN * 0.999, n
    block = r2b.blocks[0]
    taps = block.conv.conv.in_channels * 9
    p = torch.arange(-taps, taps + 1, 2, dtype=torch.float64)
    alpha = block.conv.conv.quant_weight().scale.detach().flatten().double()
    with torch.no_grad():
        y = block.prelu.double()(alpha[None, :] * p[:, None] * block.scale.double().flatten()[None, :]) / GRID
    u = y.numpy()
    assert boundary_distance(u[np.abs(u) <= TOP]).min() >= 0.9 * NOISE * TOP
