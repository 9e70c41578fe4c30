"""Walk the numeric contract: Brevitas eval -> QONNX -> streamlined -> HW graph, one line per arrow."""
import os
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import patch

import numpy as np
import qonnx.core.onnx_exec as oxe
import torch
from qonnx.core.modelwrapper import ModelWrapper

from finn.util.settings import initialize_dummy_settings
from xnorflow.chatter import say

from xnorflow.build_flows.batch_exec import run_batched, takes_batches
from xnorflow.build_flows.hw_graph import on_host_tail

STAGES = ("qonnx", "streamlined", "hw")
FLOAT_TOL = 1e-4  # relative to the largest logit: float rounding of the final scale
GRID_TOL = 1e-2  # in units of the integer logits: float32 rounding of logits up to ~1e5


@dataclass
class Arrow:
    """One arrow of the contract: max |diff|, argmax agreement (frames with equal integer logits agree), frames."""

    name: str
    max_abs_diff: float
    argmax_agree: float
    frames: int
    ok: bool
    ties: int = 0  # frames whose argmax differs only by float noise between equal integer logits

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "FAIL"
        ties = f" ({self.ties} tied)" if self.ties else ""
        return (f"{self.name:<28} max|diff| {self.max_abs_diff:.3g}  argmax {self.argmax_agree:.0%}{ties}  "
                f"frames {self.frames}  {verdict}")


def run_graph(path: Path, frames: np.ndarray) -> np.ndarray:
    """Execute an ONNX graph with FINN/QONNX python execution: on the whole batch at once (batch_exec.py, checked
    against its first and last frames alone), a graph with FINN HW ops frame by frame. Without qonnx's sanitize_quant_values: it rounds each tensor onto its annotated
    integer grid, which would patch over an off-grid value that an arrow must catch."""
    model = ModelWrapper(str(path))
    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    with patch.dict(os.environ, {"SANITIZE_QUANT_TENSORS": "0"}):
        if takes_batches(model):
            return run_batched(model, frames)
        return np.concatenate([oxe.execute_onnx(model, {name_in: f[None]})[name_out] for f in frames])


Affine = tuple[np.ndarray, np.ndarray]  # (scale, bias): logits = integer logits * scale + bias


def output_affine(path: Path) -> Affine:
    """Scale and bias of the float logits over the integer ones: the HW graph's host-side tail of constant Mul/Add."""
    model = ModelWrapper(str(path))
    scale, bias = np.ones(1, np.float32), np.zeros(1, np.float32)
    for node in (n for n in model.graph.node if on_host_tail(model, n)):
        const = model.get_initializer(node.input[1]).reshape(-1)
        scale, bias = (scale * const, bias * const) if node.op_type == "Mul" else (scale, bias + const)
    return scale, bias


def integer_logits(out: np.ndarray, affine: Affine) -> np.ndarray | None:
    """(`out` - bias) / scale as integers, or None where some logit lies off that integer grid."""
    q = (out - affine[1]) / affine[0]
    ints = np.rint(q)
    return ints if np.abs(q - ints).max() <= GRID_TOL else None


def compare(name: str, ref: np.ndarray, out: np.ndarray, affine: Affine = (np.ones(1), np.zeros(1))) -> Arrow:
    """Logits equal up to float rounding; argmax agrees on every frame whose integer logits differ."""
    diff = float(np.abs(ref - out).max())
    ints_ref, ints_out = integer_logits(ref, affine), integer_logits(out, affine)
    on_grid = ints_ref is not None and ints_out is not None
    equal = (ints_ref == ints_out).all(1) if on_grid else np.zeros(len(ref), bool)
    same_argmax = ref.argmax(1) == out.argmax(1)
    agree = float((same_argmax | equal).mean())
    ok = agree == 1.0 and diff <= FLOAT_TOL * max(1.0, float(np.abs(ref).max()))
    return Arrow(name, diff, agree, len(ref), ok, int((~same_argmax & equal).sum()))


def random_frames(input_shape: tuple[int, ...], n: int, scale: float = 2.0 ** -4, seed: int = 0) -> np.ndarray:
    """Random valid inputs: on the 8-bit input grid, including exact rounding ties."""
    rng = np.random.default_rng(seed)
    q = rng.integers(-256, 256, size=(n,) + tuple(input_shape[1:])) / 2.0
    return (q * scale).astype(np.float32)


def verify(model: torch.nn.Module | None, build_dir: str | Path, frames: np.ndarray) -> list[Arrow]:
    """Compare Brevitas eval (unless `model` is None: an external QONNX) with each saved stage, stage to stage."""
    initialize_dummy_settings()
    build_dir = Path(build_dir)
    affine = output_affine(build_dir / "hw.onnx")
    outs = {stage: run_graph(build_dir / f"{stage}.onnx", frames) for stage in STAGES}
    names = STAGES
    if model is not None:
        model.eval()
        with torch.no_grad():
            outs["brevitas"] = model(torch.from_numpy(frames)).numpy()
        names = ("brevitas",) + STAGES
    return [compare(f"{a} -> {b}", outs[a], outs[b], affine) for a, b in zip(names, names[1:])]


def print_arrows(arrows: list[Arrow]) -> bool:
    """Print one line per arrow; True when all hold."""
    for arrow in arrows:
        say(arrow)
    return all(a.ok for a in arrows)
