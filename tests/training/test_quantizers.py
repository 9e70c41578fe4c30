"""Sign estimators and quantizers: forward values and gradients as the papers define them."""
import pytest
import torch
from brevitas.nn import QuantConv2d, QuantIdentity

from xnorflow.training.quantizers import (SCALE_MANTISSA_BITS, FixedPointActQuant, Int8WeightQuant,
                                          MagnitudeAwareSignWeightQuant, SignActQuant, dyadic)
from xnorflow.training.ste import warmup_lambda

pytestmark = pytest.mark.fast  # the everyday tier: `make test-fast`

GRID = torch.linspace(-1.5, 1.5, 61)


def _sign_grad(estimator: str, x: torch.Tensor, lam: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    act = QuantIdentity(SignActQuant, estimator=estimator)
    act.train()
    act.act_quant.fused_activation_quant_proxy.tensor_quant.warmup_lambda.fill_(lam)
    x = x.clone().requires_grad_(True)
    y = act(x)
    y.sum().backward()
    return y.detach(), x.grad


def test_approxsign_backward_is_bireal_eq3() -> None:
    y, grad = _sign_grad("approx", GRID)
    expected = torch.where(GRID.abs() < 1, 2 - 2 * GRID.abs(), torch.zeros_like(GRID))
    assert torch.equal(y, torch.where(GRID >= 0, 1.0, -1.0))
    assert torch.allclose(grad, expected, atol=1e-6)


def test_clipped_ste_backward() -> None:
    _, grad = _sign_grad("ste", GRID)
    assert torch.equal(grad, (GRID.abs() <= 1).float())


@pytest.mark.parametrize("t,expected", [(0, 1.0), (99, 1.0), (100, 0.5), (250, 0.25), (1000, 0.5 ** 10)])
def test_warmup_schedule(t: int, expected: float) -> None:
    assert warmup_lambda(t, sigma=0.5, milestone=0, step=100) == expected
    assert warmup_lambda(t + 50, sigma=0.5, milestone=50, step=100) == expected


def test_warmup_forward_is_hardtanh_over_lambda_backward_as_lambda_one() -> None:
    y, grad = _sign_grad("warmup", GRID, lam=0.25)
    assert torch.allclose(y, torch.where(GRID == 0, 1.0, torch.clamp(GRID / 0.25, -1, 1)))
    assert torch.equal(grad, (GRID.abs() <= 1).float())


def test_warmup_sends_zero_to_plus_one_as_eval_does() -> None:
    zero = torch.zeros(3)
    y, _ = _sign_grad("warmup", zero, lam=1.0)
    assert torch.equal(y, torch.ones(3))
    assert torch.equal(QuantIdentity(SignActQuant, estimator="warmup").eval()(zero), y)


def test_eval_mode_is_hard_sign_for_every_estimator() -> None:
    for estimator in ("ste", "approx", "warmup"):
        act = QuantIdentity(SignActQuant, estimator=estimator).eval()
        act.act_quant.fused_activation_quant_proxy.tensor_quant.warmup_lambda.fill_(0.3)
        assert torch.equal(act(GRID), torch.where(GRID >= 0, 1.0, -1.0))


def test_magnitude_aware_weights_bireal_eq6_eq7() -> None:
    conv = QuantConv2d(3, 4, 3, bias=False, weight_quant=MagnitudeAwareSignWeightQuant)
    with torch.no_grad():
        conv.weight.mul_(8)  # push some weights beyond |w| = 1
    qw = conv.quant_weight()
    mean = conv.weight.abs().mean(dim=(1, 2, 3), keepdim=True)
    scale = dyadic(mean, SCALE_MANTISSA_BITS)  # mean|W| to 9 significant bits: every j * scale is exact
    assert torch.allclose(scale, mean, rtol=2.0 ** -SCALE_MANTISSA_BITS)
    assert torch.equal(qw.value, scale * torch.where(conv.weight >= 0, 1.0, -1.0))
    assert qw.bit_width.item() == 1
    qw.value.sum().backward()
    assert torch.allclose(conv.weight.grad, scale.detach() * (conv.weight.abs() <= 1).float())


def test_binary_and_8bit_partial_sums_are_exact_in_float32() -> None:
    """Binary conv: j * alpha exact for |j| < 2^15; 8-bit weights: power-of-two scales (the requant contract)."""
    alpha = dyadic(torch.tensor([0.0370123, 0.123456789, 3.3e-3]), SCALE_MANTISSA_BITS)
    j = torch.arange(-2**14, 2**14, dtype=torch.float64)
    assert torch.equal((j[:, None] * alpha.double()).float().double(), j[:, None] * alpha.double())
    conv = QuantConv2d(3, 4, 3, bias=False, weight_quant=Int8WeightQuant)
    scale = conv.quant_weight().scale.flatten()
    assert torch.equal(torch.exp2(torch.round(torch.log2(scale))), scale)
    assert conv.quant_weight().int().abs().max() <= 127


def test_fixed_point_grid_is_power_of_two_and_saturates() -> None:
    q = QuantIdentity(FixedPointActQuant, bit_width=6, frac_bits=2, return_quant_tensor=True)
    y = q(torch.tensor([-100.0, -1.13, 0.0, 0.374, 0.375, 0.625, 100.0]))
    assert y.scale.item() == 0.25 and y.bit_width.item() == 6
    # round half to even (0.375 -> 1.5 -> 2, 0.625 -> 2.5 -> 2): the rounding the hardware must match
    assert y.value.tolist() == [-8.0, -1.25, 0.0, 0.25, 0.5, 0.5, 7.75]


@pytest.mark.parametrize("name", ["tiny-bireal", "tiny-reactnet", "tiny-real2bin", "tiny-hyperbnn"])
def test_quantizers_compute_in_float32_under_bf16_autocast(name: str) -> None:
    from xnorflow.training.models.catalog import entry
    from xnorflow.training.models.registry import build_model
    from xnorflow.training.quantizers import Fp32RescalingIntQuant, MagnitudeAwareSignQuant, SignQuant

    model, row = build_model(name).train(), entry(name)
    quantizers = [m for m in model.modules()
                  if isinstance(m, (Fp32RescalingIntQuant, SignQuant, MagnitudeAwareSignQuant))]
    seen: list[tuple[torch.nn.Module, torch.Tensor, torch.Tensor]] = []
    hooks = [q.register_forward_hook(lambda m, args, out: seen.append((m, args[0], out[0]))) for q in quantizers]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        model(torch.randn(4, row.in_channels, row.input_size, row.input_size))
    for hook in hooks:
        hook.remove()
    assert {m for m, _, _ in seen} == set(quantizers)
    assert any(x.dtype == torch.bfloat16 for _, x, _ in seen), "no quantizer saw a bfloat16 input"
    for quantizer, x, y in seen:
        assert y.dtype == torch.float32 and torch.equal(y, quantizer(x.float())[0])
