"""Brevitas model -> QONNX: `export_qonnx` in eval mode, then qonnx's cleanup.

The TorchScript exporter (`dynamo=False`), not torch's dynamo default: it writes the graphs FINN's own flows were
built on, and takes 1.5 CPU-s for a tiny model where dynamo takes 9 (torch 2.13, Brevitas 0.13.4).
"""
from pathlib import Path

import torch
from brevitas.export import export_qonnx
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.util.cleanup import cleanup_model

from xnorflow.errors import XnorflowError

EXPORTED_BY = "xnorflow.exported_by"


def export(model: torch.nn.Module, input_shape: tuple[int, ...], path: str | Path) -> ModelWrapper:
    """Export `model` (switched to eval) for one input of `input_shape` (N, C, H, W) to QONNX at `path`."""
    if len(input_shape) != 4 or input_shape[0] != 1:
        raise XnorflowError(f"input shape {tuple(input_shape)} is not (1, C, H, W)",
                            "export one frame of an NCHW image, e.g. (1, 3, 32, 32)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    with torch.no_grad():
        export_qonnx(model, torch.zeros(input_shape), str(path), dynamo=False)
    model_w = cleanup_model(ModelWrapper(str(path)))
    model_w.set_metadata_prop(EXPORTED_BY, "xnorflow export")
    model_w.save(str(path))
    return model_w


def exported_here(path: Path) -> bool:
    """True when `path` is an ONNX file that `export` wrote (its metadata says so)."""
    try:
        return ModelWrapper(str(path)).get_metadata_prop(EXPORTED_BY) is not None
    except Exception:  # not ONNX at all
        return False
