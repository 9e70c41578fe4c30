"""Benchmark plumbing: print a figure and write it as JSON under benchmarks/results/."""
import json
import platform
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


def record(name: str, figures: dict) -> dict:
    """Print `figures` and write benchmarks/results/<name>.json with machine info."""
    RESULTS.mkdir(exist_ok=True)
    payload = {"benchmark": name, "when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": platform.machine(),
               "cpus": torch.get_num_threads(), "torch": torch.__version__, **figures}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1))
    print(json.dumps(payload, indent=1))
    return payload
