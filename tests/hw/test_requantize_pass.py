"""build_flows/requantize.py: many affine thresholds -> one Requantize (m, c per channel, one shift), equal to the
thresholds on every reachable input (checked exhaustively here, independently of the pass's own check); rows no
requantiser fits keep their thresholds; the pass on Thresholding and MVAU nodes against FINN's python execution."""
from __future__ import annotations

import numpy as np
import pytest
from qonnx.core.datatype import DataType as DT
from qonnx.custom_op.registry import getCustomOp

from finn_nodes import finn_execute, mvau_model, thresholding_model
from xnorflow.build_flows.requantize import ThresholdsToRequantizers, find_requantizer
from xnorflow.training.requant import lattice

pytestmark = pytest.mark.fast


def bn_thresholds(rng: np.random.Generator, channels: int, levels: int, k_max: int) -> np.ndarray:
    """Float thresholds of round(a k + b) onto `levels` levels over a popcount 0..k_max (a BN onto a grid):
    level j is reached at k >= (j - 1/2 - b) / a, half up like FINN's MultiThreshold."""
    a = rng.uniform(0.5, 8.0, channels) * levels / k_max * rng.choice([0.05, 1.0], channels)
    b = rng.uniform(-levels / 2, levels / 2, channels)
    j = np.arange(1, levels + 1)
    return ((j[None, :] - 0.5 - b[:, None]) / a[:, None]).astype(np.float32)


def counts(thr: np.ndarray, k: np.ndarray) -> np.ndarray:
    """#(thr <= k) per channel, (len(k), C)."""
    return (thr[None, :, :] <= k[:, None, None]).sum(axis=2)


@pytest.mark.parametrize("k_max", [9, 72, 4608])
def test_bn_rows_become_one_exact_requantizer(rng, k_max):
    """BN rows onto 255 levels over a popcount: one (m, c, s) per layer, equal on every k in 0..k_max."""
    thr = bn_thresholds(rng, 32, 255, k_max)
    rq = find_requantizer(thr, 0, k_max)
    assert rq is not None and (rq.m >= 0).all()
    k = np.arange(k_max + 1)
    np.testing.assert_array_equal(rq.level(k[:, None]), counts(np.ceil(thr), k))


def test_signed_wide_input_and_clamp_ends(rng):
    """An 8-bit conv's accumulator (signed, wide): equal on every input of the range, also far outside the
    thresholds' span, where only the clamp decides."""
    thr = bn_thresholds(rng, 8, 15, 300) - 150
    rq = find_requantizer(thr, -20000, 20000)
    k = np.arange(-20000, 20001)
    np.testing.assert_array_equal(rq.level(k[:, None]), counts(np.ceil(thr), k))
    assert rq.lo > -20000 and rq.hi < 20000


def test_half_to_even_rows_keep_their_thresholds():
    """A grid-to-grid requantisation rounding half to even (round(k / 4): thresholds 3, 6, 11, 14, ...) is no
    floor of an affine function: no requantiser."""
    k = np.arange(0, 64)
    level = np.round(k / 4)
    thr = np.array([[k[level >= j][0] for j in range(1, 17)]], dtype=np.float32)
    assert find_requantizer(thr, 0, 63) is None


def test_nonlinear_rows_keep_their_thresholds():
    """Thresholds of a sigmoid onto 15 levels (R2B's gate) are no affine requantiser."""
    j = np.arange(1, 16)
    thr = (np.log((j - 0.5) / 15 / (1 - (j - 0.5) / 15)) * 20)[None].astype(np.float32)
    assert find_requantizer(thr, -128, 127) is None


def test_thresholding_node_becomes_requantize(rng):
    """A Thresholding onto INT8 (ActVal -128) becomes Requantize; every INT10 input gives FINN's output."""
    thr = bn_thresholds(rng, 6, 255, 400) - 200
    model = thresholding_model(6, 2, DT["INT10"], DT["INT8"], np.ceil(thr), DT["INT12"], [1, 1], actval=-128)
    x = np.repeat(np.arange(-512, 512)[:, None], 6, axis=1).reshape(1, 1024, 6)
    model.set_tensor_shape("inp", [1, 1024, 6])
    model.set_tensor_shape("outp", [1, 1024, 6])
    getCustomOp(model.graph.node[0]).set_nodeattr("numInputVectors", [1, 1024])
    ref = finn_execute(model, x)
    new = model.transform(ThresholdsToRequantizers())
    assert [n.op_type for n in new.graph.node] == ["Requantize"]
    np.testing.assert_array_equal(finn_execute(new, x), ref)


def test_thresholding_that_fits_no_requantizer_is_kept():
    """A row no requantiser fits (half to even) leaves the node as it was."""
    k = np.arange(0, 64)
    level = np.round(k / 4)
    thr = np.array([[k[level >= j][0] for j in range(1, 16)]] * 2, dtype=np.float32)
    model = thresholding_model(2, 1, DT["UINT6"], DT["UINT4"], thr, DT["INT8"], [1])
    new = model.transform(ThresholdsToRequantizers())
    assert [n.op_type for n in new.graph.node] == ["Thresholding"]


def test_few_thresholds_are_kept(rng):
    """A sign (one threshold) and 3 thresholds stay thresholds."""
    for n, odt in ((1, DT["BINARY"]), (3, DT["UINT2"])):
        thr = np.sort(rng.integers(-50, 50, (4, n)), axis=1).astype(np.float32)
        model = thresholding_model(4, 1, DT["INT8"], odt, thr, DT["INT8"], [1])
        assert [nd.op_type for nd in model.transform(ThresholdsToRequantizers()).graph.node] == ["Thresholding"]


def test_xnor_mvau_splits_into_accumulator_and_requantize(rng):
    """A binary MVAU with 255 BN thresholds: MVAU (popcount out, no activation) -> Requantize, equal to FINN's
    MVAU on random inputs; the popcount stream is as narrow as MW allows."""
    mw, mh = 72, 8
    weights = rng.choice([0, 1], (mw, mh)).astype(np.float32)
    thr = np.ceil(bn_thresholds(rng, mh, 255, mw))
    model = mvau_model(mw, mh, 2, 8, DT["BINARY"], DT["BINARY"], DT["INT8"], weights, thr, DT["INT16"], [1, 2, 3],
                       xnor=True, actval=-128)
    x = rng.choice([0, 1], (1, 2, 3, mw)).astype(np.float32)
    ref = finn_execute(model, x)
    new = model.transform(ThresholdsToRequantizers())
    assert [n.op_type for n in new.graph.node] == ["MVAU", "Requantize"]
    assert new.get_tensor_datatype(new.graph.node[0].output[0]) == DT["UINT7"]
    np.testing.assert_array_equal(finn_execute(new, x), ref)


def test_snapped_lattice_rows_fit_a_dyadic_requantizer(rng):
    """training/requant.py's snapped BN onto the grid (a = n/q, b = (j + c)/q, q up to its float32-safe bound)
    over reactnet-a's largest popcount (3 x 3 x 512): never on a boundary, so a dyadic m / 2^s fits within
    MAX_SHIFT, equal to the thresholds on every popcount."""
    k_max, channels = 4608, 64
    a, b, unsafe = lattice(rng.uniform(0.01, 0.2, channels), rng.uniform(-200.0, 0.0, channels), 128.0)
    assert not unsafe.any()
    j = np.arange(1, 256) - 128
    thr = np.ceil((j[None, :] - 0.5 - b[:, None]) / a[:, None])
    rq = find_requantizer(thr.astype(np.float32), 0, k_max)
    assert rq is not None
    k = np.arange(k_max + 1)
    np.testing.assert_array_equal(rq.level(k[:, None]), counts(thr, k))
