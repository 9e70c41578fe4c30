"""Model complexity counted as the papers do: params, BOPs (binary MACs), FLOPs (real MACs), OPs = BOPs/64 + FLOPs (ReActNet Sec. 4.1)."""
import torch
from torch import nn

from xnorflow.training.layers import BipolarConv2d
from xnorflow.training.models.catalog import Complexity


def _macs(module: nn.Module, output: torch.Tensor) -> int:
    """Multiply-accumulates of a conv or linear layer producing `output` (batch of one)."""
    if isinstance(module, nn.Conv2d):
        kernel = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        return int(output[0].numel() * kernel)
    return int(output[0].numel() * module.in_features)


def count(model: nn.Module, in_channels: int, input_size: int) -> Complexity:
    """Params, BOPs and FLOPs of `model` on one in_channels x input_size x input_size image."""
    binary = {id(m.conv) for m in model.modules() if isinstance(m, BipolarConv2d)}
    totals = {"bops": 0, "flops": 0}

    def hook(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        totals["bops" if id(module) in binary else "flops"] += _macs(module, output)

    layers = [m for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))
              and ".parametrizations." not in n]  # kernel generators (HyperConv) run in training only
    handles = [m.register_forward_hook(hook) for m in layers]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, in_channels, input_size, input_size))
    model.train(was_training)
    for handle in handles:
        handle.remove()
    params = sum(p.numel() for p in model.parameters())
    return Complexity(params=params, **totals)
