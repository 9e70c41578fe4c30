"""Quick compiles are for the test suite only: builds keep the production flags, and the two never share a cache entry."""
from dataclasses import replace

import pytest

from xnorflow.hw import verilator

pytestmark = pytest.mark.fast  # the everyday tier: `make test-fast`


def test_quick_flags_only_where_asked(monkeypatch):
    """The suite runs with XNORFLOW_QUICK_COMPILE=1 (-O0); without it the per-cycle code and the runtime library
    (called twice per simulated cycle) are built at -O2."""
    assert {"OPT_FAST=-O0", "OPT_GLOBAL=-O0"} <= set(verilator.make_flags())
    design = verilator.Design("t", (verilator.testbench(STREAMS),), (verilator.Stream("i", 8),),
                              (verilator.Stream("o", 8),))
    quick_key = verilator._cache_key(design)
    monkeypatch.delenv(verilator.QUICK_COMPILE_ENV)
    assert verilator.make_flags() == verilator.MAKE_FLAGS
    assert {"OPT_FAST=-O2", "OPT_GLOBAL=-O2"} <= set(verilator.MAKE_FLAGS)
    assert verilator._cache_key(design) != quick_key


STREAMS = verilator.Design("t", (), (), ())


def test_testbench_and_its_constants_key_the_cache():
    """The same sources compiled with another testbench, or with other constants for it, are other models."""
    source = (verilator.testbench(STREAMS),)
    design = verilator.Design("t", source, (), ())
    shell = replace(design, testbench="shell_tb.cpp", defines=(("XF_AXI_BITS", 64),))
    wider = replace(shell, defines=(("XF_AXI_BITS", 128),))
    assert len({verilator._cache_key(d) for d in (design, shell, wider)}) == 3
    assert "#define XF_AXI_BITS 128\n" in verilator._ports_header(wider)
