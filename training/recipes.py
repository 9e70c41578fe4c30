"""Training recipes: ordered steps, each with its precision, sign estimator, teacher, losses, optimizer and schedule.

- `bireal`: clip-activation real pre-training (Adam 1e-3, cosine: the paper starts from a pre-trained real
  net and gives no recipe for it), then the binary net initialised from it with ApproxSign, SGD momentum 0.9,
  learning rate 0.01, no weight decay, x0.1 at 1/2 and 3/4 of the step (Bi-Real Net Sec. 4.1: epochs 10 and
  15 of 20); the trainer re-estimates BatchNorm at its end (the paper's BN re-training step).
- `reactnet`: step 1 binary activations + real weights, step 2 fully binary initialised from step 1, both with
  ApproxSign (ReActNet Sec. 4.1 follows Bi-Real's); Adam 5e-4, linear decay, no weight decay in step 2;
  with --teacher, the distributional loss only.
- `real2bin`: progressive teacher-student (R2B Sec. 4.2): step 1 real net with tanh soft binarization
  (teacher: --teacher if given; attention + logit matching), step 2 binary activations + real weights
  (teacher: step 1; attention + logit matching), step 3 fully binary (teacher: step 2; logit matching only);
  Adam 1e-3 / 1e-3 / 2e-4, stepwise x0.1 at epochs 40, 60, 70 of 75 (as fractions of the step), a 5-epoch
  linear warm-up in the two real-weight steps (R2B Sec. 4.1 'stage 1') and none in step 3.
- `hyperbnn`: one binary step with STE-Warmup on activations and weights, sigma 0.95, AMSGrad 5e-3 with
  betas (0.5, 0.99), learning rate halved at 1/3 and 2/3 of training (Hyper-BinaryNet Sec. 5).
- `binary`: one fully binary step from scratch (the plain baseline); `float`: the float model of the
  same shape (clip activations), e.g. a teacher for the distributional loss.
Every step after the first starts from the previous step's weights. Steps are named for what they train:
`real`, `soft-activations`, `binary-activations` (real weights) and `binary` (binary activations and weights).
Every step whose activations are binary ends with a BatchNorm re-estimation pass (training/bn_calibration.py).
"""
from dataclasses import dataclass, replace

from xnorflow.errors import XnorflowError

ESTIMATORS = ("ste", "approx", "warmup")  # sign backwards (training/ste.py) a step may use
BN_BATCHES = 200  # training batches the BatchNorm re-estimation at the end of a binary step averages over


@dataclass(frozen=True)
class Step:
    """One stage of a recipe. teacher: 'given' (--teacher, if any) or 'previous' (the previous step's model)."""

    name: str
    precision: str
    estimator: str = "ste"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"  # per iteration: cosine | linear (to 0) | multistep (x gamma at each milestone)
    milestones: tuple[float, ...] = ()  # multistep: where the learning rate drops, as fractions of the step
    gamma: float = 0.1
    warmup_epochs: int = 0  # linear learning-rate warm-up before the schedule
    optimizer: str = "adam"  # adam | amsgrad | sgd (with momentum)
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    teacher: str = "given"
    kd: str = "kl"
    attention_weight: float = 0.0
    warmup_sigma: float = 0.95
    warmup_milestone: int = 0
    warmup_decays: int = 100


R2B_STEPS = (40 / 75, 60 / 75, 70 / 75)  # R2B Sec. 4.1, ImageNet: steps at epochs 40, 60 and 70 of 75

RECIPES: dict[str, list[Step]] = {
    "bireal": [Step("real", "float", lr=1e-3, weight_decay=1e-5),
               Step("binary", "binary", estimator="approx", lr=0.01, optimizer="sgd", schedule="multistep",
                    milestones=(0.5, 0.75))],
    "reactnet": [Step("binary-activations", "binact", estimator="approx", lr=5e-4, weight_decay=1e-5,
                      schedule="linear"),
                 Step("binary", "binary", estimator="approx", lr=5e-4, weight_decay=0.0, schedule="linear")],
    "real2bin": [Step("soft-activations", "soft", lr=1e-3, weight_decay=1e-5, kd="ce+kl", attention_weight=1.0,
                      schedule="multistep", milestones=R2B_STEPS, warmup_epochs=5),
                 Step("binary-activations", "binact", lr=1e-3, weight_decay=1e-5, teacher="previous", kd="ce+kl",
                      attention_weight=1.0, schedule="multistep", milestones=R2B_STEPS, warmup_epochs=5),
                 Step("binary", "binary", lr=2e-4, weight_decay=0.0, teacher="previous", kd="ce+kl",
                      schedule="multistep", milestones=R2B_STEPS)],
    "hyperbnn": [Step("binary", "binary", estimator="warmup", lr=5e-3, optimizer="amsgrad", betas=(0.5, 0.99),
                      schedule="multistep", milestones=(1 / 3, 2 / 3), gamma=0.5)],
    "binary": [Step("binary", "binary", lr=1e-3)],
    "float": [Step("real", "float", lr=1e-3, weight_decay=1e-5)],
}


def recipe(name: str, estimator: str | None = None, attention_weight: float | None = None,
           until: str | None = None) -> list[Step]:
    """The steps of recipe `name` [up to step `until`]; overrides: the estimator of binary steps, the attention weight of all."""
    if name not in RECIPES:
        raise XnorflowError(f"unknown recipe '{name}'", f"use one of: {', '.join(RECIPES)}")
    steps = RECIPES[name]
    if until is not None:
        names = [s.name for s in steps]
        if until not in names:
            raise XnorflowError(f"recipe '{name}' has no step '{until}'", f"its steps are: {', '.join(names)}")
        steps = steps[:names.index(until) + 1]
    if estimator is not None:
        steps = [replace(s, estimator=estimator) if s.precision in ("binact", "binary") else s for s in steps]
    if attention_weight is not None:
        steps = [replace(s, attention_weight=attention_weight) for s in steps]  # used where a step has a teacher
    return steps
