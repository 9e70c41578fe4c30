"""Swapping qonnx/FINN functions for ours while a block runs, safely: a version guard and every import site covered.

xnorflow replaces a few qonnx/FINN functions while a build runs (fast_qonnx.py: equivalent, faster primitives;
streamline.py: an exact RemoveIdentityOps). Two things make that safe:
- the versions: the replacements are proven equivalent against one qonnx and one FINN+ release (PROVEN, the pins of
  pyproject.toml and the Makefile); importing this module with any other installed raises one XnorflowError;
- the import sites: a method patched on its class reaches every caller (a module may keep the original method on
  purpose, as fast_qonnx does to call it, and keeps it), but a module-level function is also held by every module
  that ran `from qonnx.util.basic import get_by_name` (some fifty qonnx/FINN modules), so patching the defining
  module's attribute alone misses them. `swapped` therefore replaces such a function in every loaded module that
  holds it (found by identity, whatever the name it was imported as); a module imported inside the
  block picks up the replacement from its defining module. On exit every module holding a replacement gets the
  original back, except where the replacement was already held before (its own definition, a deliberate import),
  so modules loaded during the block are restored too. Nested blocks work: the inner one finds nothing to swap.
"""
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType

from xnorflow.errors import XnorflowError

PROVEN = {"qonnx": "1.0.0", "finn-plus": "1.6.1"}  # the distributions the replacements were proven against

Patch = tuple[object, str, Callable]  # (class or module, attribute name, replacement)
Site = tuple[object, str]  # (module, attribute name)


def installed(dist: str) -> str | None:
    """The installed version of distribution `dist`, or None if it is not installed."""
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def check_versions() -> None:
    """Raise one XnorflowError unless the installed qonnx and FINN+ are the versions the replacements were proven on."""
    found = {dist: installed(dist) for dist in PROVEN}
    if found != PROVEN:
        have = " and ".join(f"{d} {v}" if v else f"no {d}" for d, v in found.items())
        want = " and ".join(f"{d}=={v}" for d, v in PROVEN.items())
        raise XnorflowError(f"xnorflow's qonnx/FINN replacements are proven only for {want}, but {have} are installed",
                            f"run `make setup`, or pip install qonnx=={PROVEN['qonnx']} && "
                            f"pip install --no-deps finn-plus=={PROVEN['finn-plus']}")


def holders(values: Iterable[object]) -> list[Site]:
    """Every (module, attribute) of a loaded module whose value is one of `values` (the very objects)."""
    targets = {id(v) for v in values}
    modules = [m for m in list(sys.modules.values()) if isinstance(m, ModuleType)]
    return [(module, name) for module in modules for name, value in list(vars(module).items()) if id(value) in targets]


def imported(patches: Sequence[Patch], values: Sequence[Callable]) -> list[Callable]:
    """The `values` of the patches on a module (functions other modules import by name), not those on a class."""
    return [v for (owner, _, _), v in zip(patches, values) if isinstance(owner, ModuleType)]


def replace(patches: Sequence[Patch], new: Sequence[Callable], old: Sequence[Callable], skip: set[Site]) -> None:
    """Set each patch's attribute to its `new` value, and every module attribute holding an imported `old` one
    (but `skip`)."""
    by_old = {id(o): n for o, n in zip(old, new)}
    for module, name in holders(imported(patches, old)):
        if (module, name) not in skip:
            setattr(module, name, by_old[id(getattr(module, name))])
    for (owner, name, _), value in zip(patches, new):
        setattr(owner, name, value)


@contextmanager
def swapped(patches: Sequence[Patch]) -> Iterator[None]:
    """Run the block with each (owner, name) replaced, in the owner and in every loaded module that imported it."""
    originals = [getattr(owner, name) for owner, name, _ in patches]
    fast = [f for _, _, f in patches]
    already = set(holders(imported(patches, fast)))  # holders of a replacement before the block keep it
    replace(patches, fast, originals, skip=set())
    try:
        yield
    finally:
        replace(patches, originals, fast, skip=already)


check_versions()
