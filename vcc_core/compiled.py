"""How the compiled loops (numba) are built and launched.

Parallel kernels (``prange``) run on numba's threading layer. Where OpenMP or TBB is missing, numba falls back to
its ``workqueue`` layer, which aborts the process when two threads launch kernels at once, and Streamlit serves
every session from its own thread. So every launch of a parallel kernel takes one process-wide lock; each kernel
already uses every core, so taking turns costs no throughput. Compiled code is cached on disk (``cache=True``):
only the first call after an install or a change pays the compilation, a few seconds.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import numba

_LAUNCH = threading.Lock()


def parallel_kernel(function: Callable) -> Callable:
    """``numba.njit(parallel=True, cache=True)`` of ``function``, launched under the process-wide lock."""
    kernel = numba.njit(cache=True, parallel=True)(function)

    @functools.wraps(function)
    def launch(*args):
        with _LAUNCH:
            return kernel(*args)

    launch.kernel = kernel
    return launch


def threads() -> int:
    """Threads a parallel kernel uses (numba's setting, by default the CPU count)."""
    return max(1, numba.get_num_threads())


def warm_up() -> None:
    """Compile every kernel once on tiny data, so that the first real call does not wait (``make install``)."""
    import numpy as np  # the kernels' users import this module: import them here, not above
    from scipy import sparse

    from vcc_core.de import wilcoxon_de
    from vcc_core.normalize import normalize_block
    from vcc_core.pseudobulk import group_sums

    counts = sparse.random(40, 8, density=0.5, format="csr", dtype=np.float32, random_state=0)
    counts.data = np.ceil(counts.data * 5)
    for x in (counts, counts.astype(np.float64)):
        values = normalize_block(x, target_sum=10.0)
        group_sums(values, np.repeat([0, 1], 20), 2)
        wilcoxon_de(values, np.repeat(["non-targeting", "a"], 20))
