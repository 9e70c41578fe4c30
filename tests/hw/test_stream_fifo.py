"""stream_fifo passes every word through unchanged, in order, under random gaps and stalls."""
import numpy as np
import pytest

from xnorflow.hw.ops import module_sources
from xnorflow.hw.synth import synthesize
from xnorflow.hw.verilator import Design, Stream, simulate

FIFO = Design("stream_fifo", module_sources("stream_fifo"), (Stream("in0_V", 70),),
              (Stream("out0_V", 70),), {"W": 70, "DEPTH": 5})


@pytest.mark.parametrize("in_gap,out_stall", [(0.0, 0.0), (0.5, 0.3), (0.1, 0.7)])
def test_fifo_is_identity(rng, in_gap, out_stall):
    """Output words equal input words (70-bit words exercise the wide-port path)."""
    words = rng.integers(0, 256, (300, 9), dtype=np.uint8)
    words[:, -1] &= 0x3F  # 70 bits
    res = simulate(FIFO, {"in0_V": words}, {"out0_V": 300}, in_gap=in_gap, out_stall=out_stall)
    np.testing.assert_array_equal(res.outputs["out0_V"], words)
    if in_gap == out_stall == 0.0:
        assert res.last_out - res.first_out == 299


def test_fifo_synthesizes():
    """Yosys maps the FIFO to xc7 cells."""
    res = synthesize("stream_fifo", FIFO.sources, {"W": 16, "DEPTH": 32})
    assert res["lut"] + res["lutram"] > 0 and res["ff"] > 0
