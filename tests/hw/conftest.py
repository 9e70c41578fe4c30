"""Shared setup for the hardware tests: FINN settings, a seeded random generator, and the tiny registry models'
hw-graph builds made once per session (per xdist worker)."""
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def finn_settings() -> None:
    """FINN+ wants its settings initialised before it executes HW nodes."""
    from finn.util.settings import initialize_dummy_settings
    initialize_dummy_settings()


@pytest.fixture
def rng(request) -> np.random.Generator:
    """Per-test generator; XNORFLOW_TEST_SEED varies the data while shapes stay fixed."""
    base = int(os.environ.get("XNORFLOW_TEST_SEED", "0"))
    return np.random.default_rng([base, sum(map(ord, request.node.name))])


@pytest.fixture(scope="session")
def tiny_graph(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Path], Path]:
    """tiny_graph(name, dest): a copy at `dest` of the registry model's hw-graph build (initial weights of seed 0,
    BN statistics randomised: test_accelerator.registry_graph), exported and built once per session; a copy, so
    each test writes its targets into its own directory."""
    from test_accelerator import registry_graph

    built: dict[str, Path] = {}

    def get(name: str, dest: Path) -> Path:
        if name not in built:
            built[name] = registry_graph(tmp_path_factory.mktemp(name), name)
        shutil.copytree(built[name], dest)
        return dest
    return get
