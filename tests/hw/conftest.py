"""Shared setup for the hardware tests: FINN settings and a seeded random generator."""
import os

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
