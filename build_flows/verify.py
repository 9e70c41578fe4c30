"""Walk the numeric contract: Brevitas eval -> QONNX -> streamlined -> HW graph, one line per arrow."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import qonnx.core.onnx_exec as oxe
import torch
from qonnx.core.modelwrapper import ModelWrapper

from finn.util.settings import initialize_dummy_settings
from xnorflow.chatter import say

STAGES = ("qonnx", "streamlined", "hw")
FLOAT_TOL = 1e-4  # relative to the largest logit: float rounding of the final scale


@dataclass
class Arrow:
    """One arrow of the contract: max |diff|, argmax agreement, frames."""

    name: str
    max_abs_diff: float
    argmax_agree: float
    frames: int
    ok: bool

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "FAIL"
        return (f"{self.name:<28} max|diff| {self.max_abs_diff:.3g}  argmax {self.argmax_agree:.0%}  "
                f"frames {self.frames}  {verdict}")


def run_graph(path: Path, frames: np.ndarray) -> np.ndarray:
    """Execute an ONNX graph frame by frame with FINN/QONNX python execution."""
    model = ModelWrapper(str(path))
    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    return np.concatenate([oxe.execute_onnx(model, {name_in: f[None]})[name_out] for f in frames])


def compare(name: str, ref: np.ndarray, out: np.ndarray) -> Arrow:
    """Argmax must agree on every frame; logits equal up to float rounding."""
    diff = float(np.abs(ref - out).max())
    agree = float((ref.argmax(1) == out.argmax(1)).mean())
    ok = agree == 1.0 and diff <= FLOAT_TOL * max(1.0, float(np.abs(ref).max()))
    return Arrow(name, diff, agree, len(ref), ok)


def random_frames(input_shape: tuple[int, ...], n: int, scale: float = 2.0 ** -4, seed: int = 0) -> np.ndarray:
    """Random valid inputs: on the 8-bit input grid, including exact rounding ties."""
    rng = np.random.default_rng(seed)
    q = rng.integers(-256, 256, size=(n,) + tuple(input_shape[1:])) / 2.0
    return (q * scale).astype(np.float32)


def verify(model: torch.nn.Module | None, build_dir: str | Path, frames: np.ndarray) -> list[Arrow]:
    """Compare Brevitas eval (unless `model` is None: an external QONNX) with each saved stage, stage to stage."""
    initialize_dummy_settings()
    build_dir = Path(build_dir)
    outs = {stage: run_graph(build_dir / f"{stage}.onnx", frames) for stage in STAGES}
    names = STAGES
    if model is not None:
        model.eval()
        with torch.no_grad():
            outs["brevitas"] = model(torch.from_numpy(frames)).numpy()
        names = ("brevitas",) + STAGES
    return [compare(f"{a} -> {b}", outs[a], outs[b]) for a, b in zip(names, names[1:])]


def print_arrows(arrows: list[Arrow]) -> bool:
    """Print one line per arrow; True when all hold."""
    for arrow in arrows:
        say(arrow)
    return all(a.ok for a in arrows)
