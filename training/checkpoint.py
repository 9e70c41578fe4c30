"""Checkpoints: atomic writes, validated loads, and rebuilding a model from its checkpoint."""
import os
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from xnorflow.errors import XnorflowError
from xnorflow.training.layers import QuantSpec

FORMAT = "xnorflow-checkpoint-v2"
V1 = "xnorflow-checkpoint-v1"
V1_OPTIONS = {"dpconv_mean": False, "gate_reads_bn": False}  # v1 blocks: a learned DPConv kernel, the R2B gate on x


def save_atomic(obj: object, path: Path) -> None:
    """torch.save (every tensor moved to the CPU, so it loads on any device) to a temporary file beside `path`, then
    rename: a kill never leaves half a checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    torch.save(on_cpu(obj), tmp)
    os.replace(tmp, path)


def on_cpu(obj: object) -> object:
    """`obj` with every tensor in it (through dicts, lists and tuples) on the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: on_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(on_cpu(v) for v in obj)
    return obj


def model_meta(name: str, spec: QuantSpec, in_channels: int, num_classes: int, input_size: int,
               options: dict[str, bool] | None = None, data: str | None = None) -> dict:
    """What rebuilding a registry model (and finding its test images) needs, stored in every checkpoint."""
    return {"model": name, "spec": asdict(spec), "in_channels": in_channels, "num_classes": num_classes,
            "input_size": input_size, "options": dict(options or {}), "data": data}


def load(path: str | Path) -> dict:
    """Load and validate an xnorflow checkpoint; a missing, corrupt or foreign file is one clear error."""
    path = Path(path)
    if not path.is_file():
        raise XnorflowError(f"checkpoint {path} does not exist", "pass the model.pt written by `xnorflow train`")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for truncated/garbled files
        raise XnorflowError(f"checkpoint {path} is corrupt or not a torch file ({type(err).__name__})",
                            "re-run `xnorflow train` (it resumes) or point to an intact checkpoint") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") not in (FORMAT, V1):
        raise XnorflowError(f"{path} is not an xnorflow checkpoint", "pass the model.pt written by `xnorflow train`")
    return ckpt if ckpt["format"] == FORMAT else _from_v1(ckpt)


def _from_v1(ckpt: dict) -> dict:
    """A v1 checkpoint as v2: the builder options that rebuild its blocks as v1 built them (the paper-default fixes off)."""
    from xnorflow.training.models.registry import BUILDERS

    takes = getattr(BUILDERS.get(ckpt.get("model")), "options", ())
    legacy = {k: v for k, v in V1_OPTIONS.items() if k in takes}
    return {**ckpt, "format": FORMAT, "options": {**legacy, **(ckpt.get("options") or {})}, "upgraded_from": V1}


def load_state(model: nn.Module, state: dict, source: str) -> None:
    """Load a state dict whose parameters must all match `model`; quantizer buffers may differ across precisions."""
    own = dict(model.named_parameters())
    missing = [k for k in own if k not in state]
    wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
    if missing or wrong:
        bad = (missing + wrong)[0]
        raise XnorflowError(f"{source} does not match the model ({len(missing)} missing, {len(wrong)} mis-shaped "
                            f"parameters, e.g. '{bad}')", "use a checkpoint of the same model, classes and widths")
    model.load_state_dict({k: v for k, v in state.items() if k in model.state_dict()}, strict=False)


def build_from(ckpt: dict, source: str, precision: str | None = None) -> nn.Module:
    """Rebuild the checkpoint's registry model (optionally at another precision) and load its weights."""
    from xnorflow.training.models.registry import build_model

    spec = QuantSpec(**ckpt["spec"])
    model = build_model(ckpt["model"], ckpt["num_classes"], ckpt["in_channels"], ckpt["input_size"],
                        spec.for_step(precision) if precision else spec, ckpt.get("options"))
    load_state(model, ckpt["state_dict"], source)
    return model.eval()


def load_model(path: str | Path) -> tuple[nn.Module, dict]:
    """The eval-mode model stored in an xnorflow checkpoint, with its metadata."""
    ckpt = load(path)
    return build_from(ckpt, str(path)), ckpt
