"""tiny-bireal on digits with the Bi-Real recipe: test accuracy and wall time (target >= 95% within 3 min on 2 cores)."""
import argparse
import tempfile
import time

from common import record

from xnorflow.training.trainer import TrainConfig, run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=30)
    args = p.parse_args()
    began = time.time()
    with tempfile.TemporaryDirectory() as out:
        summary = run(TrainConfig(model="tiny-bireal", data="digits", out=out, epochs=args.epochs, progress=False))
    record("train_digits", {"model": "tiny-bireal", "data": "digits", "recipe": "bireal", "epochs_per_step": args.epochs,
                            "test_acc": summary["test_acc"], "wall_s": round(time.time() - began, 1),
                            "target": ">= 0.95 within 180 s"})


if __name__ == "__main__":
    main()
