"""The qonnx/FINN replacements: the version guard, and every module that imported a replaced function reached."""
import importlib
import re
import sys
from pathlib import Path

import pytest

import xnorflow.build_flows.hw_graph  # noqa: F401  (loads the qonnx/FINN modules a build uses)
from xnorflow.build_flows import fast_qonnx, qonnx_patches
from xnorflow.errors import XnorflowError

pytestmark = pytest.mark.fast  # the everyday tier: `make test-fast`

ROOT = Path(__file__).resolve().parents[2]
LAZY = "qonnx.util.range_analysis"  # imports get_by_name; not needed by a build


def holding(values: list) -> set[tuple[str, str]]:
    """(module name, attribute) of every loaded qonnx/FINN/xnorflow module attribute that is one of `values`."""
    return {(m.__name__, n) for m, n in qonnx_patches.holders(values)
            if m.__name__.split(".")[0] in ("qonnx", "finn", "xnorflow")}


def test_version_guard(monkeypatch):
    """Any other installed qonnx or FINN+ is refused with one line naming both versions and the fix."""
    monkeypatch.setattr(qonnx_patches, "version", lambda dist: {"qonnx": "1.1.0"}.get(dist, "1.6.1"))
    with pytest.raises(XnorflowError) as info:
        qonnx_patches.check_versions()
    message = str(info.value)
    assert "qonnx 1.1.0" in message and "qonnx==1.0.0" in message and "make setup" in message and "\n" not in message


def test_version_guard_missing(monkeypatch):
    """A missing FINN+ is reported as such."""
    def version(dist: str) -> str:
        if dist == "finn-plus":
            raise qonnx_patches.PackageNotFoundError(dist)
        return "1.0.0"
    monkeypatch.setattr(qonnx_patches, "version", version)
    with pytest.raises(XnorflowError, match="qonnx 1.0.0 and no finn-plus are installed"):
        qonnx_patches.check_versions()


def test_proven_versions_are_the_pins():
    """The guard's versions are the ones pyproject.toml and the Makefile install."""
    pins = re.findall(r"(qonnx|finn-plus)==([\d.]+)", (ROOT / "pyproject.toml").read_text() + (ROOT / "Makefile").read_text())
    assert dict(pins) == qonnx_patches.PROVEN
    qonnx_patches.check_versions()


def test_every_import_site_swapped(monkeypatch):
    """Inside the block no loaded module holds a replaced qonnx function; after it, none holds a replacement."""
    patches = fast_qonnx.PATCHES
    originals = qonnx_patches.imported(patches, [getattr(owner, name) for owner, name, _ in patches])
    fast = qonnx_patches.imported(patches, [f for _, _, f in patches])
    before = holding(originals)
    assert sum(m.startswith(("qonnx.", "finn.")) for m, _ in before) >= 20  # get_by_name's many direct imports
    monkeypatch.delitem(sys.modules, LAZY, raising=False)
    with fast_qonnx.accelerated():
        with fast_qonnx.accelerated():
            assert holding(originals) == set()
        assert all(getattr(owner, name) is f for owner, name, f in patches)
        lazy = importlib.import_module(LAZY)  # imported inside the block: gets the replacement
        assert lazy.get_by_name is fast_qonnx.get_by_name and holding(originals) == set()
    assert lazy.get_by_name is originals[0]
    assert holding(originals) == before | {(LAZY, "get_by_name")}
    assert {m for m, _ in holding(fast)} == {fast_qonnx.__name__}
