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
