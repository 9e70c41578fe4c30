"""Blocks and registry models: gradients reach the learnable parts, eval mode is integer-exact, counts match the papers."""
import pytest
import torch
from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear

from xnorflow.training.layers import BinaryConv2d, BipolarConv2d, LearnableBias, QuantSpec, RPReLU
from xnorflow.training.models.catalog import REGISTRY, complexity
from xnorflow.training.models.registry import BUILDERS, build_model, measure

pytestmark = pytest.mark.fast  # the everyday tier: `make test-fast`

TINY = [n for n in REGISTRY if n.startswith("tiny-")]
PAPER = {  # (BOPs, FLOPs, OPs) as the papers report them
    "bireal18": (1.68e9, 1.39e8, 1.63e8),
    "bireal34": (3.53e9, 1.39e8, 1.93e8),
    "reactnet-a": (4.82e9, 0.12e8, 0.87e8),
}


def _randomize_bn(model: torch.nn.Module) -> None:
    """Non-trivial BN statistics so eval mode exercises real thresholds."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(-1, 1)
            m.bias.data.uniform_(-1, 1)


@pytest.mark.parametrize("name", PAPER)
def test_full_models_match_paper_counts(name: str) -> None:
    c = complexity(name)
    for ours, paper in zip((c.bops, c.flops, c.ops), PAPER[name]):
        assert abs(ours - paper) / paper < 0.05, (name, ours, paper)


@pytest.mark.parametrize("name", [*TINY, pytest.param("reactnet-a-cifar", marks=pytest.mark.slow)])
def test_catalog_counts_are_the_built_models(name: str) -> None:
    """`xnorflow models` prints the catalog's counts: they must be what the builder's model counts to."""
    assert complexity(name) == measure(name)


def test_every_catalog_name_has_a_builder() -> None:
    assert list(BUILDERS) == list(REGISTRY)


def test_other_input_size_is_counted_on_the_built_model() -> None:
    assert complexity("tiny-bireal", 16).bops == 4 * complexity("tiny-bireal").bops


def test_binary_conv_pads_with_minus_one() -> None:
    conv = BinaryConv2d(1, 1, 3, 1, QuantSpec()).eval()
    torch.nn.init.constant_(conv.conv.conv.weight, 0.5)
    conv.bn = torch.nn.Identity()
    out = conv(torch.ones(1, 1, 4, 4))  # sign -> +1 everywhere; pad -> -1
    # interior: 9 products of (+1)(+0.5); corner: 4 inside - 5 pad = -1 -> -0.5; edge: 6 - 3 = 3 -> 1.5
    assert out[0, 0, 1, 1].item() == 4.5 and out[0, 0, 0, 0].item() == -0.5 and out[0, 0, 0, 1].item() == 1.5


def test_rsign_and_rprelu_parameters_get_gradients() -> None:
    spec = QuantSpec()
    shift, sign, rprelu = LearnableBias(4), spec.sign(), RPReLU(4, spec)
    x = torch.randn(2, 4, 5, 5)
    (sign(shift(x)).sum() + rprelu(x).pow(2).sum()).backward()  # RSign = sign(x - alpha)
    for p in [shift.bias, rprelu.shift_in.bias, rprelu.prelu.weight, rprelu.shift_out.bias]:
        assert p.grad is not None and p.grad.abs().sum() > 0


@pytest.mark.parametrize("name", TINY)
def test_all_learnable_parts_get_gradients(name: str) -> None:
    model = build_model(name).train()
    torch.nn.functional.cross_entropy(model(torch.randn(8, 1, 8, 8) * 3), torch.arange(8)).backward()
    dead = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert not dead


def _quant_outputs(model: torch.nn.Module, x: torch.Tensor) -> dict[str, tuple]:
    """Every quantizer's (value, scale, bit width) during one eval forward."""
    seen: dict[str, tuple] = {}
    for name, m in model.named_modules():
        if isinstance(m, QuantIdentity):
            m.register_forward_hook(lambda mod, i, o, name=name: seen.__setitem__(
                name, (o, mod.act_quant.scale(), mod.act_quant.bit_width(), mod.act_quant.is_signed)))
    model(x)
    return seen


@pytest.mark.parametrize("name", TINY)
@pytest.mark.parametrize("seed", [0, 1])
def test_eval_model_is_integer_exact(name: str, seed: int) -> None:
    torch.manual_seed(seed)
    model = build_model(name)
    _randomize_bn(model)
    model.eval()
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    with torch.no_grad():
        acts = _quant_outputs(model, x)
        logits = model(x)
    for name_, (value, scale, bits, signed) in acts.items():
        ints = value / scale
        assert torch.equal(ints, ints.round()), name_
        lo, hi = (-1, 1) if bits == 1 else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
        assert ints.min() >= lo and ints.max() <= hi, name_
    # logits are exactly the integer accumulator of the 8-bit FC times the two scales
    head_in, head_scale, _, _ = acts["head.quant"]
    fc: QuantLinear = model.head.fc
    w = fc.quant_weight()
    acc = torch.flatten(model.head.relu(head_in) / head_scale, 1).double() @ (w.value / w.scale).double().T
    assert torch.allclose(logits.double(), acc * head_scale.double() * w.scale.double().T, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", TINY)
def test_binary_conv_output_is_integer_popcount_times_scale(name: str) -> None:
    model = build_model(name).eval()
    conv: QuantConv2d = next(m.conv for m in model.modules() if isinstance(m, BipolarConv2d))
    w = conv.quant_weight()
    ints = w.value / w.scale
    assert set(ints.unique().tolist()) <= {-1.0, 1.0}
    x = torch.where(torch.randn(2, conv.in_channels, 6, 6) >= 0, 1.0, -1.0)
    integer = torch.nn.functional.conv2d(x, ints, stride=conv.stride)
    assert torch.equal(integer, integer.round())
    assert torch.allclose(conv(x), integer * w.scale.view(1, -1, 1, 1), atol=1e-6)


@pytest.mark.parametrize("name", TINY)
def test_training_step_is_deterministic_under_seed(name: str) -> None:
    def one_step() -> list[torch.Tensor]:
        torch.manual_seed(42)
        model = build_model(name).train()
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        return [p.detach().clone() for p in model.parameters()]

    first, second = one_step(), one_step()
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_input_that_does_not_fit_is_one_clear_error() -> None:
    from xnorflow.errors import XnorflowError

    with pytest.raises(XnorflowError, match=r"input 3x8x8 does not fit model 'bireal18'.*use an input of 224x224"):
        build_model("bireal18", input_size=8)


def test_unknown_builder_option_is_named() -> None:
    """An option a model does not declare is refused naming its real options; a builder's own TypeError is not
    mistaken for one."""
    from xnorflow.errors import XnorflowError
    with pytest.raises(XnorflowError, match="'tiny-hyperbnn' does not take option gating; its options are: hyper, "
                                            "dpconv, enhanced"):
        build_model("tiny-hyperbnn", options={"gating": False})
    with pytest.raises(XnorflowError, match="'tiny-bireal' does not take option gating; its options are: none"):
        build_model("tiny-bireal", options={"gating": False})
    assert build_model("tiny-real2bin", options={"gating": False}) is not None
