"""A trained tiny-bireal (the `make demo` checkpoint of 2026-11-26) whose BatchNorm put one digits test value
1.1e-5 of a grid step below a rounding boundary: Brevitas and QONNX rounded it down, FINN's integer threshold
up. Snapped requantizers (training/requant.py) keep every reachable value off the boundaries, so every arrow
is exact on every test image, logits included."""
from pathlib import Path

from xnorflow.build_flows.pipeline import verify_artifact

CKPT = Path(__file__).parent / "data" / "near_tie_tiny_bireal.pt"


def test_trained_near_tie_checkpoint_is_exact_on_every_arrow():
    arrows, frames_from = verify_artifact(CKPT, frames=360)
    assert frames_from.startswith("digits test images")
    assert [a.name for a in arrows] == ["brevitas -> qonnx", "qonnx -> streamlined", "streamlined -> hw"]
    assert all(a.ok and a.max_abs_diff == 0 and a.frames == 360 for a in arrows), [str(a) for a in arrows]
