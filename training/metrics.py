"""Training metrics written after every epoch: CSV, JSON and a PNG plot of loss and accuracy."""
import csv
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text)
    os.replace(tmp, path)


def write(history: list[dict], out: Path) -> None:
    """metrics.csv, metrics.json and metrics.png in `out` from the rows so far (all steps)."""
    if not history:
        return
    fields = list(history[0])
    lines = [",".join(fields)] + [",".join(str(row[f]) for f in fields) for row in history]
    _write_text(out / "metrics.csv", "\n".join(lines) + "\n")
    _write_text(out / "metrics.json", json.dumps(history, indent=1))
    plot(history, out / "metrics.png")


def read_csv(path: Path) -> list[dict]:
    """Rows of a metrics.csv as dicts of strings."""
    with open(path) as f:
        return list(csv.DictReader(f))


def plot(history: list[dict], path: Path) -> None:
    """Loss and accuracy per epoch, one colour per recipe step."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for step in dict.fromkeys(row["step"] for row in history):
        rows = [r for r in history if r["step"] == step]
        x = [r["epoch"] for r in rows]
        loss_ax.plot(x, [r["train_loss"] for r in rows], label=f"{step} train")
        acc_ax.plot(x, [r["train_acc"] for r in rows], label=f"{step} train")
        acc_ax.plot(x, [r["test_acc"] for r in rows], "--", label=f"{step} test")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="training loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1))
    for ax in (loss_ax, acc_ax):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".partial.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, path)
