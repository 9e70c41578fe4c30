"""Real-to-Binary and Hyper-BinaryNet vs the Bi-Real baseline on fashion-mnist at the same epoch budget, with ablations.

Each row trains one tiny model for `budget` epochs in total, split evenly over its recipe's steps.
"""
import argparse
import tempfile
import time

from common import record

from xnorflow.training.recipes import RECIPES
from xnorflow.training.trainer import TrainConfig, run

ROWS = {  # name: (model, recipe, overrides)
    "bireal (baseline)": ("tiny-bireal", "bireal", {}),
    "real2bin": ("tiny-real2bin", "real2bin", {}),
    "real2bin w/o attention loss": ("tiny-real2bin", "real2bin", {"attention_weight": 0.0}),
    "real2bin w/o gating": ("tiny-real2bin", "real2bin", {"options": {"gating": False}}),
    "hyperbnn": ("tiny-hyperbnn", "hyperbnn", {}),
    "hyperbnn w/o STE-Warmup": ("tiny-hyperbnn", "hyperbnn", {"estimator": "ste"}),
    "hyperbnn w/o HyperConv": ("tiny-hyperbnn", "hyperbnn", {"options": {"hyper": False}}),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--budget", type=int, default=6, help="total epochs per row, over all recipe steps")
    p.add_argument("--limit", type=int, default=5000, help="training/test images used")
    p.add_argument("--rows", nargs="*", default=list(ROWS))
    args = p.parse_args()
    results = {}
    for row in args.rows:
        model, recipe, overrides = ROWS[row]
        epochs = max(1, args.budget // len(RECIPES[recipe]))
        began = time.time()
        with tempfile.TemporaryDirectory() as out:
            summary = run(TrainConfig(model=model, data="fashion-mnist", recipe=recipe, epochs=epochs, out=out,
                                      limit=args.limit, progress=False, **overrides))
        results[row] = {"test_acc": summary["test_acc"], "epochs_per_step": epochs, "wall_s": round(time.time() - began)}
        print(row, results[row], flush=True)
    base = results.get("bireal (baseline)", {}).get("test_acc")
    for row in results:
        results[row]["beats_baseline"] = None if base is None else results[row]["test_acc"] > base
    record("methods_fashion", {"budget_epochs": args.budget, "limit": args.limit, "rows": results})


if __name__ == "__main__":
    main()
