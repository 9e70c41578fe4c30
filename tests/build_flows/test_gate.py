"""Real-to-Binary's gate in integer form: sigmoid quantizer thresholds, and the PReLU-then-gate block order."""
import numpy as np
import torch

from xnorflow.build_flows.gate import sigmoid_levels, sigmoid_thresholds
from xnorflow.training.layers import QuantSpec
from xnorflow.training.models.real2bin import Real2BinBlock


def test_sigmoid_thresholds_give_the_quantized_sigmoid():
    """count(x >= T) equals Quant(sigmoid(x)) on random inputs and on both sides of every threshold."""
    t = sigmoid_thresholds(2.0 ** -8, 8)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 4, 20000), t[0], np.nextafter(t[0], np.float32(-np.inf))]).astype(np.float32)
    assert np.array_equal((x[:, None] >= t).sum(1), sigmoid_levels(x, 2.0 ** -8, 8))


def test_prelu_then_gate_is_r2b_eq3():
    """Real-valued block: prelu(conv * scale * G(A)) == prelu(conv * scale) * G(A), G >= 0 (PReLU homogeneous)."""
    torch.manual_seed(0)
    block = Real2BinBlock(8, 8, 1, QuantSpec(precision="float")).eval()
    block.prelu.weight.data = torch.randn(8)
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        y = block.conv(block.sign(block.bn(x))) * block.scale
        paper = block.quant_out(block.prelu(y * block.gate(x)) + block.shortcut(x))
        assert torch.allclose(block(x), paper, atol=1e-6)
