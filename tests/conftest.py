"""Shared fixtures: small simulated screens (seeded) and the real files in ../shared/data."""

from __future__ import annotations

from functools import cache
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


@cache
def log1p_as_fixtures() -> bool:
    """Whether numpy's float32 ``log1p`` on this CPU rounds as on the machine the golden files were made on.

    numpy picks its ``log1p`` loop by CPU (an AVX-512 one where the CPU has it): the two round some float32 values to
    neighbouring floats. The fixtures' normalised values (``de_papalexi.h5ad``: ``X`` is the reference's
    ``log1p`` of the normalised ``layers["counts"]``) tell which one made them.
    """
    import anndata as ad

    from vcc_core.data.normalize import log1p_normalize  # scanpy's normalize_total + log1p, bit for bit

    adata = ad.read_h5ad(FIXTURES / "de_papalexi.h5ad")
    ours = log1p_normalize(ad.AnnData(adata.layers["counts"], obs=adata.obs, var=adata.var)).X
    return (ours != adata.X).nnz == 0


ROUNDED_ELSEWHERE = pytest.mark.xfail(
    condition=not log1p_as_fixtures(),
    reason="golden numbers of counts normalised on a CPU whose numpy rounds float32 log1p differently from this "
    "one's: some normalised values land on neighbouring floats, so ties and last digits differ (the reference run "
    "here gives our numbers, as tests/data/test_normalize.py checks against scanpy)",
    raises=AssertionError,
    strict=False,
)
"""Mark for a golden test whose inputs the reference normalised from counts itself: on a CPU that rounds float32
``log1p`` otherwise (:func:`log1p_as_fixtures`), it is expected to differ in the last bits."""
