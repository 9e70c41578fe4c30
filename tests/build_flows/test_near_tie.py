"""A known defect, pinned: a trained tiny-bireal (the `make demo` checkpoint of 2026-11-26) whose BatchNorm
lands within float32 noise of a shortcut-grid rounding boundary on one digits test image. Brevitas and
QONNX put it 1.1e-5 of a grid step below the boundary, and FINN's integer threshold puts it on the other side.
The xfail is not strict: which side float32 noise falls on may depend on the CPU's summation order, and an
XPASS on this machine means the fix landed (then remove the marker)."""
from pathlib import Path

import pytest

from xnorflow.build_flows.pipeline import verify_artifact

CKPT = Path(__file__).parent / "data" / "near_tie_tiny_bireal.pt"


@pytest.mark.xfail(strict=False, reason="float32 near-tie: the Brevitas eval model is not integer-exact by "
                   "construction (binary-conv scale and BatchNorm in float32); see the FINN-flow issue")
def test_trained_near_tie_qonnx_to_streamlined():
    """qonnx -> streamlined holds on every digits test image of the demo checkpoint."""
    arrows, _ = verify_artifact(CKPT, frames=64)
    assert all(a.ok for a in arrows), [str(a) for a in arrows if not a.ok]


def test_near_tie_stays_upstream_of_the_rtl():
    """The same checkpoint: the HW graph still equals the streamlined graph bit for bit."""
    arrows, _ = verify_artifact(CKPT, frames=64)
    hw = next(a for a in arrows if a.name == "streamlined -> hw")
    assert hw.ok and hw.max_abs_diff == 0
