"""What snapping the requantizers (training/requant.py) costs: per checkpoint, channels snapped, the largest
relative change of a multiplier, channels below the float32-safe margin, and test accuracy before and after.

Usage: python requant.py [CKPT ...]   (xnorflow checkpoints whose data set is at hand; default: the committed
demo checkpoint of tests/build_flows/data)
"""
import argparse
import copy
import sys
from dataclasses import asdict
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).parent))
from common import record  # noqa: E402

from xnorflow.build_flows.pipeline import checkpoint_data  # noqa: E402
from xnorflow.training.checkpoint import load_model  # noqa: E402
from xnorflow.training.data import load_dataset  # noqa: E402
from xnorflow.training.hyperconv import materialize  # noqa: E402
from xnorflow.training.layers import QuantSpec  # noqa: E402
from xnorflow.training.requant import snap_requantizers  # noqa: E402


DEMO_CHECKPOINT = Path(__file__).parent.parent / "tests" / "build_flows" / "data" / "near_tie_tiny_bireal.pt"


def figures(path: Path) -> dict:
    """Snap one checkpoint's model and compare its test-set predictions with the unsnapped model's."""
    model, ckpt = load_model(path)
    model = materialize(model).eval()
    snapped = copy.deepcopy(model)
    report = snap_requantizers(snapped, QuantSpec(**ckpt["spec"]))
    images, labels = next(iter(DataLoader(load_dataset(checkpoint_data(path, ckpt)).test, batch_size=100_000)))
    with torch.no_grad():
        before, after = model(images).argmax(1), snapped(images).argmax(1)
    return {"model": ckpt["model"], **asdict(report), "test_images": len(labels),
            "acc_before": round(float((before == labels).float().mean()), 4),
            "acc_after": round(float((after == labels).float().mean()), 4),
            "same_prediction": round(float((before == after).float().mean()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*", type=Path, default=[DEMO_CHECKPOINT])
    args = parser.parse_args()
    record("requant", {str(p): figures(p) for p in args.checkpoints})


if __name__ == "__main__":
    main()
