"""The board fit: the fastest folding whose modelled LUTs and DSPs leave the shell its headroom."""
from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType as DT

from finn_nodes import mvau_model
from xnorflow.hw.boards import board
from xnorflow.hw.folding import analytical_bound, fold_for_cycles
from xnorflow.hw.resources import Headroom, fit_board, modelled_use, within


def _wide_int8_layer():
    """An INT8 x INT8 layer of 1024 x 512 weights: unfolded it would need half a million DSPs."""
    weights = np.random.default_rng(0).integers(-128, 128, (1024, 512)).astype(float)
    return mvau_model(1024, 512, 1, 1, DT["INT8"], DT["INT8"], DT["INT32"], weights, None, None, [4],
                      xnor=False)


def test_fit_keeps_dsps_and_luts_under_the_headroom():
    """On a Pynq-Z2 the fitted folding uses at most 80% of the DSPs and 70% of the LUTs (modelled), and the
    next faster folding would not."""
    b, room = board("Pynq-Z2"), Headroom()
    model = fit_board(_wide_int8_layer(), b)
    use = modelled_use(model)
    assert 0 < use["dsp"] <= 0.8 * b.dsp and use["lut"] <= 0.7 * b.lut
    faster = fold_for_cycles(model, analytical_bound(model) - 1)
    assert not within(faster, b, room)


def test_headroom_is_a_setting():
    """A smaller DSP share gives a slower folding."""
    b = board("Pynq-Z2")
    loose = analytical_bound(fit_board(_wide_int8_layer(), b))
    tight = analytical_bound(fit_board(_wide_int8_layer(), b, Headroom(lut=0.7, dsp=0.2)))
    assert tight > loose
