"""Rows aligned by name, checked: the one place that turns names into positions (light: no metric, no torch)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def positions(have, want, what: str) -> np.ndarray:
    """Position in ``have`` of every name of ``want`` (both compared as strings).

    Raises ``ValueError`` naming the first names of ``want`` that ``have`` lacks (``what`` says whose names).
    """
    index = pd.Index(np.asarray(have).astype(str))
    pos = index.get_indexer(np.asarray(want).astype(str))
    if (pos < 0).any():
        absent = np.asarray(want)[pos < 0]
        msg = f"{what} lacks {absent.size} name(s) of the real data: {', '.join(map(str, absent[:10]))}"
        raise ValueError(msg)
    return pos
