"""How the compiled loops (numba) are built and launched.

Parallel kernels (``prange``) run on numba's threading layer. Where OpenMP or TBB is missing, numba falls back to
its ``workqueue`` layer, which aborts the process when two threads launch kernels at once, and Streamlit serves
every session from its own thread. So on that layer every launch of a parallel kernel takes one process-wide lock;
each kernel already uses every core, so taking turns costs no throughput. On the thread-safe layers (OpenMP, TBB)
kernels are launched freely, and they release the GIL: two threads can each run kernels on their share of the
cores (:func:`share_cores`). Compiled code is cached on disk (``cache=True``): only the first call after an
install or a change pays the compilation, a few seconds.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator

import numba

_LAUNCH = threading.Lock()
THREAD_SAFE_LAYERS = ("omp", "tbb")


def parallel_kernel(function: Callable) -> Callable:
    """``numba.njit(parallel=True, cache=True, nogil=True)`` of ``function``, launched under the process-wide lock
    unless the threading layer is thread-safe (:func:`concurrent_launches`)."""
    kernel = numba.njit(cache=True, parallel=True, nogil=True)(function)

    @functools.wraps(function)
    def launch(*args):
        if concurrent_launches():
            return kernel(*args)
        with _LAUNCH:
            return kernel(*args)

    launch.kernel = kernel
    return launch


def concurrent_launches() -> bool:
    """Whether kernels may be launched from several threads at once: the threading layer is OpenMP or TBB. It is
    known once a first kernel has run; until then, False."""
    try:
        return numba.threading_layer() in THREAD_SAFE_LAYERS
    except ValueError:  # no parallel kernel has run yet: the layer is not chosen
        return False


def threads() -> int:
    """Threads a parallel kernel uses (numba's setting for the calling thread, by default the CPU count)."""
    return max(1, numba.get_num_threads())


@contextlib.contextmanager
def share_cores(parts: int) -> Iterator[None]:
    """Within the block, kernels launched by the calling thread use ``1 / parts`` of its threads (at least one):
    ``parts`` threads that each launch kernels then share the cores instead of crowding them. numba's setting is
    per thread; it is restored on leaving."""
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, before // max(parts, 1)))
    try:
        yield
    finally:
        numba.set_num_threads(before)
