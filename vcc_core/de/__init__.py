"""Wilcoxon rank-sum DE against the control cells: the public API (:mod:`~vcc_core.de.wilcoxon`), the numba CPU
kernel, the torch sort engine (GPU) and the histogram engine (Dask)."""
