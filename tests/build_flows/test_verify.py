"""The contract's arrows (build_flows.verify): integer logits decide argmax agreement, float noise between
equal integer logits is a tie, not a failure."""
import numpy as np
import torch
from brevitas.export import export_qonnx

import probes
from xnorflow.build_flows.pipeline import build
from xnorflow.build_flows.verify import compare, random_frames, verify

SCALE = np.float32(0.0623)
BIAS = np.float32(0.25)
AFFINE = (np.array([SCALE]), np.array([BIAS]))  # logits = integer logits * SCALE + BIAS


def test_tied_integer_logits_agree():
    """Equal integer logits whose floats differ by one ulp agree even where argmax picks the other tie."""
    exact = np.array([[3, 5, 5, 1], [2, 7, 0, 7], [4, 1, 0, 0]], np.float32) * SCALE + BIAS
    noisy = exact.copy()
    noisy[0, 2], noisy[1, 3] = np.nextafter(exact[0, 2], 1), np.nextafter(exact[1, 3], 100)
    arrow = compare("brevitas -> qonnx", noisy, exact, AFFINE)
    assert arrow.ok and arrow.argmax_agree == 1.0 and arrow.ties == 2
    assert "argmax 100% (2 tied)" in str(arrow) and "\n" not in str(arrow)


def test_differing_integer_logits_fail():
    """Another argmax where the integer logits differ is a disagreement."""
    exact = np.array([[3, 5, 5, 1], [4, 1, 0, 0]], np.float32) * SCALE + BIAS
    other = exact.copy()
    other[1, 1] = 6 * SCALE + BIAS
    arrow = compare("streamlined -> hw", exact, other, AFFINE)
    assert not arrow.ok and arrow.argmax_agree == 0.5 and arrow.ties == 0


def test_two_bit_user_net_verifies(tmp_path):
    """A user's 2-bit net (plain Brevitas, export_qonnx): every arrow holds with full argmax agreement, equal
    integer logits counted as agreeing. Whether float noise flips a tied frame's Brevitas argmax depends on the CPU's
    summation order (it does on some machines, not on others), so the tie count is tested on exact data above."""
    model = probes.seeded(probes.two_bit_probe, 0, widths=(8, 4))
    with torch.no_grad():
        export_qonnx(model, torch.zeros(1, 1, 8, 8), str(tmp_path / "user.onnx"))
    build(str(tmp_path / "user.onnx"), tmp_path / "build")
    arrows = verify(model, tmp_path / "build", random_frames((1, 1, 8, 8), 32, seed=0))
    assert all(a.ok and a.argmax_agree == 1.0 for a in arrows), [str(a) for a in arrows]
