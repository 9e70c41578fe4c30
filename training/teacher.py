"""Real-valued teachers for the distributional loss: an xnorflow checkpoint, a TorchScript file, or a torchvision model."""
from pathlib import Path

import torch
from torch import nn

from xnorflow.errors import XnorflowError
from xnorflow.training import checkpoint

USAGE = "use --teacher CKPT (xnorflow model.pt), torchscript:FILE, or torchvision:ARCH:WEIGHTS.pth"


def load_teacher(spec: str, in_channels: int, input_size: int, num_classes: int) -> nn.Module:
    """Load the teacher named by `spec` and check that it maps this data's images to num_classes logits."""
    kind, _, rest = spec.partition(":")
    if kind == "torchscript":
        model = _torchscript(Path(rest))
    elif kind == "torchvision":
        model = _torchvision(rest)
    else:
        model, _ = checkpoint.load_model(spec)
    _check(model.eval(), spec, in_channels, input_size, num_classes)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _torchscript(path: Path) -> nn.Module:
    if not path.is_file():
        raise XnorflowError(f"teacher TorchScript file {path} does not exist", USAGE)
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception as err:
        raise XnorflowError(f"teacher {path} is not a TorchScript module ({type(err).__name__})", USAGE) from None


def _torchvision(rest: str) -> nn.Module:
    arch, _, weights = rest.partition(":")
    try:
        import torchvision
    except Exception:
        raise XnorflowError("torchvision teacher asked for but torchvision does not import here",
                            "pip install a torchvision matching torch, or export the teacher to TorchScript") from None
    model = torchvision.models.get_model(arch)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model


def _check(model: nn.Module, spec: str, in_channels: int, input_size: int, num_classes: int) -> None:
    try:
        with torch.no_grad():
            out = model(torch.zeros(2, in_channels, input_size, input_size))
    except RuntimeError as err:
        raise XnorflowError(f"teacher {spec} does not take {in_channels}x{input_size}x{input_size} images "
                            f"({str(err).splitlines()[0]})", USAGE) from None
    if out.shape != (2, num_classes):
        raise XnorflowError(f"teacher {spec} gives {tuple(out.shape[1:])} outputs, the data has {num_classes} classes",
                            "train or pick a teacher for the same classes")
