"""``python -m vcc_core warm-up``: compile every numba kernel once, so that the first real call does not wait, and
prepare the app's default dataset, so that its first start does not simulate it.

Compiled code and the dataset are cached on disk; ``make install`` runs this once after an install or a change.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import sparse

from vcc_core.data.normalize import normalize_block
from vcc_core.data.pseudobulk import group_sums
from vcc_core.de.wilcoxon import wilcoxon_de

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "warm-up", help="compile the numba kernels once and prepare the default dataset (make install runs it)"
    )
    parser.add_argument(
        "--no-dataset", action="store_true", help="only compile the kernels, do not prepare the default dataset"
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    warm_up()
    if not args.no_dataset:
        prepare_default_dataset()
    return 0


def prepare_default_dataset() -> None:
    """Simulate the app's default dataset into the disk cache with what its Dataset page shows (pseudobulk,
    summary, splits): the first start of the app then reads them (a few seconds) rather than simulating (about
    ten on two cores). Nothing is kept when the cache is off or cannot be written."""
    from vcc_core.data.dataset import open_dataset
    from vcc_core.data.simulate import DEFAULT_PRESET

    log.info("preparing the default dataset %r", DEFAULT_PRESET)
    open_dataset(DEFAULT_PRESET)


def warm_up() -> None:
    """Compile every kernel once on tiny data, so that the first real call does not wait (``make install``)."""
    counts = sparse.random(40, 8, density=0.5, format="csr", dtype=np.float32, random_state=0)
    counts.data = np.ceil(counts.data * 5)
    for x in (counts, counts.astype(np.float64)):
        values = normalize_block(x, target_sum=10.0)
        group_sums(values, np.repeat([0, 1], 20), 2)
        wilcoxon_de(values, np.repeat(["non-targeting", "a"], 20))
