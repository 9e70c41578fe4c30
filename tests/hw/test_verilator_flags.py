"""Quick compiles are for the test suite only: builds keep the production flags, and the two never share a cache entry."""
import pytest

from xnorflow.hw import verilator

pytestmark = pytest.mark.fast  # the everyday tier: `make test-fast`


def test_quick_flags_only_where_asked(monkeypatch):
    """The suite runs with XNORFLOW_QUICK_COMPILE=1 (-O0); without it the per-cycle code is built at -O2."""
    assert "OPT_FAST=-O0" in verilator.make_flags()
    design = verilator.Design("t", (verilator.TESTBENCH,), (verilator.Stream("i", 8),), (verilator.Stream("o", 8),))
    quick_key = verilator._cache_key(design)
    monkeypatch.delenv(verilator.QUICK_COMPILE_ENV)
    assert verilator.make_flags() == verilator.MAKE_FLAGS and "OPT_FAST=-O2" in verilator.MAKE_FLAGS
    assert verilator._cache_key(design) != quick_key
