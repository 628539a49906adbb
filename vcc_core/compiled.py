"""How the compiled loops (numba) are built and launched.

Parallel kernels (``prange``) run on numba's threading layer. Where OpenMP or TBB is missing, numba falls back to
its ``workqueue`` layer, which aborts the process when two threads launch kernels at once, and Streamlit serves
every session from its own thread. So on that layer every launch of a parallel kernel takes one process-wide lock;
each kernel already uses every core, so taking turns costs no throughput. On the thread-safe layers (OpenMP, TBB)
kernels are launched freely, and they release the GIL: two threads can each run kernels on their share of the
cores (:class:`CoreShare`). Compiled code is cached on disk (``cache=True``): only the first call after an
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
    unless the threading layer is thread-safe (:func:`concurrent_launches`), on the calling thread's share of the
    cores (:class:`CoreShare`)."""
    kernel = numba.njit(cache=True, parallel=True, nogil=True)(function)

    @functools.wraps(function)
    def launch(*args):
        share = getattr(_MEMBER, "share", None)
        if share is not None:
            numba.set_num_threads(share.threads())
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
    """Threads a parallel kernel launched now by the calling thread uses: its share of the cores
    (:class:`CoreShare`), else numba's setting for it (by default the CPU count)."""
    share = getattr(_MEMBER, "share", None)
    return share.threads() if share is not None else max(1, numba.get_num_threads())


_MEMBER = threading.local()  # .share: the CoreShare the calling thread works in, if any


class CoreShare:
    """Threads that each launch kernels and share the cores: a kernel uses the cores divided among the threads
    still at work, so that when one is done, the others take its cores for their next kernels (a thread's share
    is its own: numba's setting is per thread)."""

    def __init__(self, parts: int, *, cores: int | None = None):
        self._cores = max(1, cores or numba.get_num_threads())
        self._active, self._lock = max(parts, 1), threading.Lock()

    def threads(self) -> int:
        with self._lock:
            return max(1, self._cores // self._active)

    @contextlib.contextmanager
    def member(self) -> Iterator[None]:
        """Within the block, the calling thread is one of the threads sharing the cores; leaving, it gives its
        share back to the others."""
        before = numba.get_num_threads()
        _MEMBER.share = self
        try:
            yield
        finally:
            _MEMBER.share = None
            numba.set_num_threads(before)
            with self._lock:
                self._active -= 1
