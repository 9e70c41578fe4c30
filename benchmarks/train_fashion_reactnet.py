"""tiny-reactnet on fashion-mnist: float teacher, then the two-step ReActNet recipe with the distributional loss (target >= 90%)."""
import argparse
import time
from pathlib import Path

from common import record

from xnorflow.training.trainer import TrainConfig, run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=8, help="epochs per step (teacher, step 1, step 2)")
    p.add_argument("--out", default="runs/bench-fashion-reactnet")
    args = p.parse_args()
    out = Path(args.out)
    began = time.time()
    teacher = run(TrainConfig(model="tiny-reactnet", data="fashion-mnist", recipe="float", epochs=args.epochs,
                              out=str(out / "teacher"), progress=False))
    teacher_s = time.time() - began
    student = run(TrainConfig(model="tiny-reactnet", data="fashion-mnist", recipe="reactnet", epochs=args.epochs,
                              teacher=teacher["checkpoint"], out=str(out / "student"), progress=False))
    record("train_fashion_reactnet", {
        "model": "tiny-reactnet", "data": "fashion-mnist", "epochs_per_step": args.epochs,
        "teacher_test_acc": teacher["test_acc"], "student_test_acc": student["test_acc"],
        "teacher_wall_s": round(teacher_s, 1), "total_wall_s": round(time.time() - began, 1), "target": ">= 0.90"})


if __name__ == "__main__":
    main()
