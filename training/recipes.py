"""Training recipes: ordered steps, each with its precision, sign estimator, optimizer and schedule.

- `bireal`: clip-activation real pre-training, then the binary net initialised from it (Bi-Real Net Sec. 3.3).
- `reactnet`: step 1 binary activations + real weights, step 2 fully binary initialised from step 1;
  Adam 5e-4, linear decay, no weight decay in step 2 (ReActNet Sec. 4.1).
- `binary`: one fully binary step from scratch (the plain baseline); `float`: the float model of the
  same shape (clip activations), e.g. a teacher for the distributional loss.
"""
from dataclasses import dataclass, replace

from xnorflow.errors import XnorflowError


@dataclass(frozen=True)
class Step:
    """One stage of a recipe."""

    name: str
    precision: str
    estimator: str = "ste"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_sigma: float = 0.95
    warmup_milestone: int = 0
    warmup_step: int = 100


RECIPES: dict[str, list[Step]] = {
    "bireal": [Step("pretrain", "float", lr=1e-3, weight_decay=1e-5),
               Step("binary", "binary", estimator="approx", lr=1e-3)],
    "reactnet": [Step("step1", "binact", lr=5e-4, weight_decay=1e-5, schedule="linear"),
                 Step("step2", "binary", lr=5e-4, weight_decay=0.0, schedule="linear")],
    "binary": [Step("binary", "binary", lr=1e-3)],
    "float": [Step("float", "float", lr=1e-3, weight_decay=1e-5)],
}


def recipe(name: str, estimator: str | None = None) -> list[Step]:
    """The steps of recipe `name`; `estimator` overrides the sign estimator of every binary step."""
    if name not in RECIPES:
        raise XnorflowError(f"unknown recipe '{name}'", f"use one of: {', '.join(RECIPES)}")
    steps = RECIPES[name]
    if estimator is None:
        return steps
    return [replace(s, estimator=estimator) if s.precision != "float" else s for s in steps]
