"""Sign estimators and quantizers: forward values and gradients as the papers define them."""
import pytest
import torch
from brevitas.core.quant import IntQuant
from brevitas.nn import QuantConv2d, QuantIdentity

from xnorflow.training.quantizers import (SCALE_MANTISSA_BITS, FixedPointActQuant, FixedPointRound,
                                          FusedIntQuant, Int8WeightQuant,
                                          MagnitudeAwareSignWeightQuant, SignActQuant, UnsignedFixedPointActQuant,
                                          dyadic)
from xnorflow.training.recipes import ESTIMATORS
from xnorflow.training.ste import ApproxSign, ClippedSignSTE, WarmupHardtanh, warmup_lambda

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


def _bits(t: torch.Tensor) -> torch.Tensor:
    """The float32 bit patterns: equal bits, not just equal values (-0.0 and +0.0 differ)."""
    return t.view(torch.int32)


def _value_and_grad(fn, x: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """fn(x) and dL/dx for L = sum(fn(x) * grad), as bit patterns."""
    x = x.clone().requires_grad_(True)
    y = fn(x)
    y.backward(grad)
    return _bits(y.detach()), _bits(x.grad)


def _fixed_point_inputs(scale: float, lo: int, hi: int) -> torch.Tensor:
    """Random values over and beyond the range, zeros of both signs, the clip bounds, half-steps and ties."""
    torch.manual_seed(0)
    codes = torch.tensor([lo, hi, lo - 0.5, hi + 0.5, lo + 0.5, hi - 0.5, 0.5, -0.5, 1.5, -2.5, lo - 1, hi + 1])
    edges = torch.cat([codes * scale, torch.nextafter(codes * scale, torch.tensor(0.0)),
                       torch.nextafter(codes * scale, codes * scale * 2), torch.tensor([0.0, -0.0, 1e-30, -1e-30])])
    spread = torch.randn(4000) * (hi - lo) * scale
    return torch.cat([edges, spread, torch.zeros(64), (spread * 0).neg()]).view(4, -1, 1)


@pytest.mark.parametrize("quant,bits,frac", [(FixedPointActQuant, 8, 4), (FixedPointActQuant, 8, 6),
                                             (FixedPointActQuant, 5, 2), (UnsignedFixedPointActQuant, 4, 4)])
def test_fused_int_quant_is_brevitas_int_quant_bit_for_bit(quant: type, bits: int, frac: int) -> None:
    """FusedIntQuant in training gives Brevitas IntQuant's values and gradients, bit for bit."""
    act = QuantIdentity(quant, bit_width=bits, frac_bits=frac).train()
    tensor_quant = act.act_quant.fused_activation_quant_proxy.tensor_quant
    int_quant = tensor_quant.int_quant
    assert isinstance(int_quant, FusedIntQuant)
    bit_width = tensor_quant.msb_clamp_bit_width_impl()
    scale = tensor_quant.scaling_impl(torch.empty(0), tensor_quant.int_scaling_impl(bit_width))
    zero_point = tensor_quant.zero_point_impl(torch.empty(0), scale, bit_width)
    lo, hi = int(int_quant.min_int(bit_width)), int(int_quant.max_int(bit_width))
    x = _fixed_point_inputs(float(scale), lo, hi)
    grad = torch.randn_like(x)
    fused = _value_and_grad(lambda v: int_quant(scale, zero_point, bit_width, v), x, grad)
    brevitas = _value_and_grad(lambda v: IntQuant.forward(int_quant, scale, zero_point, bit_width, v), x, grad)
    assert torch.equal(fused[0], brevitas[0]) and torch.equal(fused[1], brevitas[1])
    assert torch.equal(_bits(act(x)), brevitas[0])  # the fused path is the one a training model runs


def test_fused_int_quant_eval_and_learned_scales_run_brevitas(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eval (so export) and a learned scale run Brevitas' own IntQuant, never the fused Function."""
    monkeypatch.setattr(FixedPointRound, "apply", None)
    act = QuantIdentity(FixedPointActQuant, bit_width=8, frac_bits=4).eval()
    assert act(torch.tensor([0.03, -9.0])).tolist() == [0.0, -8.0]
    int_quant = act.act_quant.fused_activation_quant_proxy.tensor_quant.int_quant.train()
    scale = torch.tensor(0.5, requires_grad=True)
    int_quant(scale, torch.tensor(0.0), torch.tensor(8.0), torch.tensor([1.2])).backward()
    assert scale.grad is not None


def _sign_inputs() -> torch.Tensor:
    """Zeros of both signs, the clip bounds +-1 and their neighbours, halves, and random values; 4 rows."""
    torch.manual_seed(1)
    ones = torch.tensor([1.0, -1.0])
    edges = torch.cat([torch.tensor([0.0, -0.0, 0.5, -0.5, 1e-30, -1e-30]), ones, torch.nextafter(ones, 2 * ones),
                       torch.nextafter(ones, 0 * ones)])
    return torch.cat([edges.repeat(8), torch.randn(4000) * 1.5, torch.zeros(64)]).view(4, -1)


SIGNS = {"ste": ClippedSignSTE.apply, "approx": ApproxSign.apply,
         "warmup": lambda x, scale: WarmupHardtanh.apply(x, scale, 0.25)}


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_fused_sign_scale_is_estimator_then_scale_bit_for_bit(estimator: str) -> None:
    """estimator(x, s) equals estimator(x, 1) * s through autograd (Brevitas' order), values and gradients."""
    sign = SIGNS[estimator]
    scale = dyadic(torch.rand(4, 1) + 0.05, SCALE_MANTISSA_BITS)
    x = _sign_inputs()
    grad = torch.randn_like(x)
    fused = _value_and_grad(lambda v: sign(v, scale), x, grad)
    unfused = _value_and_grad(lambda v: sign(v, torch.tensor(1.0)) * scale, x, grad)
    assert torch.equal(fused[0], unfused[0]) and torch.equal(fused[1], unfused[1])


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_sign_act_quant_training_path_is_the_estimator_bit_for_bit(estimator: str) -> None:
    """The Brevitas activation quantizer in training runs the estimator at its unit scale, values and gradients."""
    act = QuantIdentity(SignActQuant, estimator=estimator).train()
    act.act_quant.fused_activation_quant_proxy.tensor_quant.warmup_lambda.fill_(0.25)
    x = _sign_inputs()
    grad = torch.randn_like(x)
    quant = _value_and_grad(act, x, grad)
    alone = _value_and_grad(lambda v: SIGNS[estimator](v, torch.tensor(1.0)), x, grad)
    assert torch.equal(quant[0], alone[0]) and torch.equal(quant[1], alone[1])


def test_magnitude_aware_weights_are_clipped_sign_then_scale_bit_for_bit() -> None:
    """The weight quantizer gives sign(W) * dyadic(mean|W|) and its autograd gradient (Bi-Real Eq. 6-7), bit for bit."""
    conv = QuantConv2d(4, 4, 3, bias=False, weight_quant=MagnitudeAwareSignWeightQuant)
    with torch.no_grad():
        conv.weight.copy_(_sign_inputs()[:, :36].reshape(4, 4, 3, 3) * 2)
    grad = torch.randn(4, 4, 3, 3)
    qw = conv.quant_weight().value
    qw.backward(grad)
    scale = dyadic(conv.weight.detach().abs().mean(dim=(1, 2, 3), keepdim=True), SCALE_MANTISSA_BITS)
    value, weight_grad = _value_and_grad(lambda w: ClippedSignSTE.apply(w, torch.tensor(1.0)) * scale,
                                         conv.weight.detach(), grad)
    assert torch.equal(_bits(qw.detach()), value) and torch.equal(_bits(conv.weight.grad), weight_grad)
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
