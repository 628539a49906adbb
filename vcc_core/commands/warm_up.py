"""``python -m vcc_core warm-up``: compile every numba kernel once, so that the first real call does not wait.

Compiled code is cached on disk (``cache=True``); ``make install`` runs this once after an install or a change.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from vcc_core.data.normalize import normalize_block
from vcc_core.data.pseudobulk import group_sums
from vcc_core.de.wilcoxon import wilcoxon_de


def register(subparsers) -> None:
    parser = subparsers.add_parser("warm-up", help="compile the numba kernels once (make install runs it)")
    parser.set_defaults(func=run)


def run(args) -> int:
    warm_up()
    return 0


def warm_up() -> None:
    """Compile every kernel once on tiny data, so that the first real call does not wait (``make install``)."""
    counts = sparse.random(40, 8, density=0.5, format="csr", dtype=np.float32, random_state=0)
    counts.data = np.ceil(counts.data * 5)
    for x in (counts, counts.astype(np.float64)):
        values = normalize_block(x, target_sum=10.0)
        group_sums(values, np.repeat([0, 1], 20), 2)
        wilcoxon_de(values, np.repeat(["non-targeting", "a"], 20))
