"""Shared fixtures: small simulated screens (seeded) and the real files in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcc_core.data.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
"""Golden files and small inputs; ``tests/fixtures/README.md`` says where each comes from."""
SHARED_DATA = ROOT.parent / "shared" / "data"
PAPALEXI = SHARED_DATA / "papalexi2021_sceptredata_lowmoi.h5ad"
PERTURBENCH = SHARED_DATA / "perturbench_devel_norman19_mcfaline23.h5ad"


@pytest.fixture(scope="session")
def tiny():
    """12 perturbations x 40 cells + 300 controls, 300 genes, raw counts (do not modify)."""
    return simulate("tiny")


@pytest.fixture
def tiny_copy(tiny):
    return tiny.copy()


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not present (the shared data folder sits beside the repository)")
    return path


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Every test session gets its own cache folder, so no test reads a user's cache or another run's."""
    import os

    folder = tmp_path_factory.mktemp("vcc-cache")
    old = os.environ.get("VCC_CACHE_DIR")
    os.environ["VCC_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("VCC_CACHE_DIR", None)
    else:
        os.environ["VCC_CACHE_DIR"] = old
