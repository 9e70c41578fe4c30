"""Real-to-Binary and Hyper-BinaryNet pieces: attention loss, gating, HyperConv, the progressive recipe."""
from pathlib import Path

import pytest
import torch

from xnorflow.cli import main
from xnorflow.training import metrics
from xnorflow.training.hyperconv import HyperConv2d, materialize
from xnorflow.training.layers import QuantSpec
from xnorflow.training.losses import attention_loss
from xnorflow.training.models.real2bin import ChannelGate
from xnorflow.training.models.registry import build_model


def test_attention_loss_equals_hand_computation() -> None:
    s = torch.tensor([[[[1.0, 2.0]], [[0.0, 1.0]]]])  # 1 x 2 channels x 1 x 2
    t = torch.tensor([[[[3.0, 0.0]], [[4.0, 0.0]]]])
    # Q_S = [1, 5] / sqrt(26); Q_T = [25, 0] / 25 = [1, 0]
    qs = torch.tensor([1.0, 5.0]) / 26 ** 0.5
    by_hand = (qs - torch.tensor([1.0, 0.0])).norm()
    assert torch.allclose(attention_loss([s, s], [t, t]), 2 * by_hand)


def test_attention_loss_refuses_mismatched_teacher() -> None:
    from xnorflow.errors import XnorflowError

    with pytest.raises(XnorflowError, match="teacher's blocks to match"):
        attention_loss([torch.ones(1, 2, 4, 4)], [torch.ones(1, 2, 2, 2)])


def test_gate_has_eq3_shape_and_range() -> None:
    gate = ChannelGate(16, 32, QuantSpec()).eval()
    g = gate(torch.randn(5, 16, 6, 6) * 4)
    assert g.shape == (5, 32, 1, 1)
    codes = g * 256
    assert torch.equal(codes, codes.round()) and g.min() >= 0 and g.max() <= 255 / 256
    assert len(g.unique()) > 1  # data dependent


def test_gate_is_input_dependent_per_sample() -> None:
    gate = ChannelGate(32, 8, QuantSpec(precision="float")).eval()
    x = torch.randn(2, 32, 4, 4)
    g = gate(x)
    assert not torch.equal(g[0], g[1]) and ((g > 0) & (g < 1)).all()


def test_hyperconv_kernels_are_bipolar_and_embeddings_learn() -> None:
    conv = HyperConv2d(4, 6, 3, 1, QuantSpec())
    kernel = conv.conv.quant_weight().value
    assert set(kernel.unique().tolist()) <= {-1.0, 1.0}
    conv(torch.where(torch.randn(2, 4, 5, 5) >= 0, 1.0, -1.0)).pow(2).sum().backward()
    generator = conv.conv.parametrizations.weight[0]
    assert generator.z.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in generator.fc.parameters())


def test_materialize_ships_the_generated_kernel_only() -> None:
    """Export sees the generated kernels and DPConv's mean kernel baked in, the same function, no generator."""
    model = build_model("tiny-hyperbnn").eval()
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    before = model(x)
    materialize(model)
    assert torch.equal(model(x), before)
    assert not [n for n, _ in model.named_parameters() if "parametrizations" in n]
    assert torch.equal(model.blocks[0].dpconv.conv.weight, model.blocks[0].conv.conv.weight.mean((0, 1), True))


@pytest.mark.parametrize("hyper", [True, False])
def test_without_hyperconv_the_weights_keep_ste_warmup(hyper: bool) -> None:
    from xnorflow.training.quantizers import SignQuant

    model = build_model("tiny-hyperbnn", spec=QuantSpec(estimator="warmup"), options={"hyper": hyper})
    weight_quant = model.blocks[0].conv.conv.weight_quant.tensor_quant
    assert isinstance(weight_quant, SignQuant) and weight_quant.estimator == "warmup"


STEPS = ["soft-activations", "binary-activations", "binary"]


def test_progressive_real2bin_runs_three_steps_each_checkpointed(tmp_path: Path) -> None:
    out = tmp_path / "r2b"
    args = ["train", "--model", "tiny-real2bin", "--data", "digits", "--recipe", "real2bin", "--epochs", "1",
            "--limit", "256", "--quiet", "--out", str(out)]
    assert main([*args, "--until", "soft-activations"]) == 0
    assert [r["step"] for r in metrics.read_csv(out / "metrics.csv")] == ["soft-activations"]
    assert main(args) == 0  # continues with steps 2 and 3, step 1 is not retrained
    assert [r["step"] for r in metrics.read_csv(out / "metrics.csv")] == STEPS
    assert all((out / s / "checkpoint.pt").exists() for s in STEPS)


def test_hyperbnn_recipe_decays_lambda_every_iteration(tmp_path: Path) -> None:
    out = tmp_path / "hb"  # 2 epochs x 4 batches = 8 iterations < 100 decays: S = 1, last lambda = sigma^7
    assert main(["train", "--model", "tiny-hyperbnn", "--data", "digits", "--recipe", "hyperbnn", "--epochs", "2",
                 "--limit", "256", "--quiet", "--out", str(out)]) == 0
    from xnorflow.training.quantizers import SignQuant

    ckpt = torch.load(out / "model.pt")
    assert ckpt["spec"]["estimator"] == "warmup"
    model = build_model("tiny-hyperbnn", spec=QuantSpec(**ckpt["spec"]))
    model.load_state_dict(ckpt["state_dict"])
    assert {m.estimator for m in model.modules() if isinstance(m, SignQuant)} == {"warmup"}
    lambdas = {m.warmup_lambda.item() for m in model.modules() if isinstance(m, SignQuant)}
    assert len(lambdas) == 1 and lambdas.pop() == pytest.approx(0.95 ** 7)


def test_unknown_recipe_step_is_one_line(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["train", "--model", "tiny-real2bin", "--data", "digits", "--recipe", "real2bin", "--until", "step9",
                 "--out", str(tmp_path / "x")]) == 2
    assert f"recipe 'real2bin' has no step 'step9'; its steps are: {', '.join(STEPS)}" in capsys.readouterr().err


def test_dpconv_gradient_reaches_the_binary_convs_latent_weights() -> None:
    """DPConv's kernel is the mean of the binary conv's real kernels (Hyper-BinaryNet Eq. 8), through sign or not."""
    block = build_model("tiny-hyperbnn", spec=QuantSpec(estimator="warmup"), options={"hyper": False}).blocks[0]
    block.train()
    x = torch.randn(2, 16, 8, 8) * 4  # |x| > 1 mostly: the sign's clipped surrogate passes almost nothing
    block.dpconv(x).sum().backward()
    latent = block.conv.conv.weight
    assert latent.grad is not None and latent.grad.abs().sum() > 0
    assert torch.equal(block.dpconv.conv.weight, latent.mean(dim=(0, 1), keepdim=True))




@pytest.mark.parametrize("reads_bn", [True, False])
def test_gate_reads_the_bn_output_the_sign_binarizes(reads_bn: bool) -> None:
    """R2B Fig. 1: G(A) and sign(A) see the same A, the BN output; gate_reads_bn=False is v1's gate on the input."""
    block = build_model("tiny-real2bin", options={"gate_reads_bn": reads_bn}).blocks[0].eval()
    torch.nn.init.uniform_(block.bn.bias, -1, 1)
    seen = []
    block.gate.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0]))
    x = torch.randint(-16, 16, (2, 16, 8, 8)) / 16.0
    block(x)
    assert torch.equal(seen[0], block.bn(x) if reads_bn else x)
