"""`make demo`: train a tiny model on digits, then walk it through every stage this machine can run."""
from pathlib import Path

from xnorflow.training.trainer import TrainConfig, run


def demo(model: str, data: str, out: str, epochs: int) -> dict:
    """Train `model` on `data` with the Bi-Real recipe and print what was done."""
    summary = run(TrainConfig(model=model, data=data, out=str(Path(out) / "train"), epochs=epochs))
    print(f"[train] {model} on {data}: test accuracy {summary['test_acc']:.4f} -> {summary['checkpoint']}")
    return summary
