"""Trained checkpoints of every tiny model, exact on every arrow over the digits test images, logits included.

`near_tie_tiny_bireal.pt` is the `make demo` checkpoint of 2026-11-26, trained before snapping existed. One of
its BatchNorms put a test value 1.1e-5 of a grid step below a rounding boundary. Brevitas and QONNX rounded
it down; FINN's integer threshold rounded it up (max |diff| 0.0245). The others were trained for 10 epochs
(`xnorflow train --data digits`) and stripped to their weights. Snapped requantizers (training/requant.py)
keep every reachable value off the boundaries, so no frame can hit a near-tie.
"""
from pathlib import Path

import pytest

from xnorflow.build_flows.pipeline import verify_artifact

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("ckpt,frames", [("near_tie_tiny_bireal.pt", 360), ("trained_tiny_reactnet.pt", 120),
                                         ("trained_tiny_real2bin.pt", 120), ("trained_tiny_hyperbnn.pt", 120)])
def test_trained_checkpoint_is_exact_on_every_arrow(ckpt, frames):
    arrows, frames_from = verify_artifact(DATA / ckpt, frames=frames)
    assert frames_from.startswith("digits test images")
    assert [a.name for a in arrows] == ["brevitas -> qonnx", "qonnx -> streamlined", "streamlined -> hw"]
    assert all(a.ok and a.max_abs_diff == 0 and a.frames == frames for a in arrows), [str(a) for a in arrows]
