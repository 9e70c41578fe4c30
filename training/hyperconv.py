"""HyperConv: binary kernels generated from embeddings z by an auxiliary FC with weight normalisation (Hyper-BinaryNet Sec. 3.2-3.3).

The generator is a torch parametrization of the conv's weight, so Brevitas quantizes the generated
kernel as usual; `materialize` bakes the generated kernels in and drops the hypernetwork: the
exported graph and the hardware see a plain binary conv.
"""
import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from xnorflow.training.layers import BipolarConv2d, QuantSpec


class KernelGenerator(nn.Module):
    """D(z): every (c_out, c_in) kernel is FC(z_i) with weight norm, z of shape [C_in * C_out, Z_n] (Eq. 3)."""

    def __init__(self, shape: torch.Size, embedding: int) -> None:
        super().__init__()
        self.shape = tuple(shape)
        kernels, taps = shape[0] * shape[1], shape[2] * shape[3]
        self.z = nn.Parameter(torch.randn(kernels, embedding))
        self.fc = nn.utils.parametrizations.weight_norm(nn.Linear(embedding, taps, bias=False))

    def forward(self, _unused: Tensor) -> Tensor:
        return self.fc(self.z).view(self.shape)


class HyperConv2d(BipolarConv2d):
    """Bipolar-padded binary conv whose kernel is sign(D(z)): gradients accumulate in z and D (hyper accumulation)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, spec: QuantSpec, embedding: int = 8) -> None:
        super().__init__(cin, cout, kernel, stride, **spec.sign_weight_quant())
        parametrize.register_parametrization(self.conv, "weight", KernelGenerator(self.conv.weight.shape, embedding),
                                             unsafe=True)
        # the proxy weight is generated, never read: keep no dead copy of it
        self.conv.parametrizations.weight.original = nn.Parameter(torch.empty(0), requires_grad=False)


def materialize(model: nn.Module) -> nn.Module:
    """Replace every generated kernel (HyperConv's, DPConv's mean) by its current value, in place."""
    for module in model.modules():
        for name in list(getattr(module, "parametrizations", {})):
            parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    return model
