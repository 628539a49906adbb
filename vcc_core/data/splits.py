"""Perturbation-level train / validation / test splits, as in the VCC (150 / 50 / 100 of 300)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vcc_core.keys import SPLIT_COL, SPLITS

VCC_FRACTIONS = (0.5, 1 / 6, 1 / 3)


def split_perturbations(
    perts, *, effect: np.ndarray | None = None, fractions=VCC_FRACTIONS, seed: int = 0
) -> pd.Series:
    """Assign each perturbation to ``train``, ``val`` or ``test``.

    Perturbations (never cells) are split. When ``effect`` (one number per perturbation, e.g. the
    true effect strength or the norm of its delta) is given, the split is stratified by it: the
    perturbations are ranked by effect and each consecutive block is dealt out in proportion, so
    every split spans weak to strong effects.

    Returns
    -------
    pandas.Series
        Split name indexed by perturbation, named :data:`vcc_core.keys.SPLIT_COL`.
    """
    perts = np.asarray(perts, dtype=object)
    fractions = np.asarray(fractions, dtype=float)
    if fractions.size != 3 or np.any(fractions < 0) or not np.isclose(fractions.sum(), 1.0):
        msg = f"fractions must be three non-negative numbers summing to 1, got {fractions.tolist()}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    order = rng.permutation(perts.size) if effect is None else np.argsort(np.asarray(effect), kind="stable")
    quota = _quota(perts.size, fractions)
    # Interleave the splits evenly along the effect ranking, then shuffle inside small blocks.
    position = np.concatenate([(np.arange(q) + 0.5) / q for q in quota])
    pattern = np.repeat(np.arange(3), quota)[np.argsort(position, kind="stable")]
    block = max(1, round(1 / max(fractions[fractions > 0].min(), 1e-9)))
    dealt = np.concatenate([rng.permutation(pattern[i : i + block]) for i in range(0, perts.size, block)])
    labels = np.empty(perts.size, dtype=object)
    labels[order] = np.array(SPLITS, dtype=object)[dealt]
    return pd.Series(labels, index=pd.Index(perts, name="perturbation"), name=SPLIT_COL)


def _quota(n: int, fractions: np.ndarray) -> np.ndarray:
    """Integer counts per split summing to ``n`` (largest remainders)."""
    raw = fractions * n
    quota = np.floor(raw).astype(int)
    quota[np.argsort(raw - quota)[::-1][: n - quota.sum()]] += 1
    return quota


def splits_from_obs(obs: pd.DataFrame, *, pert_col: str, control: str, perts) -> pd.Series:
    """The split each perturbation is given in ``obs[SPLIT_COL]`` (a dataset that brings its own), as
    :func:`split_perturbations` returns it.

    Raises
    ------
    ValueError
        A value other than train / val / test, a perturbation whose cells disagree, or one without a value.
    """
    labels = obs[pert_col].astype(str)
    given = obs.loc[(labels != control).to_numpy(), SPLIT_COL]
    values = given.astype(str).where(given.notna())
    bad = sorted(set(values.dropna()) - set(SPLITS))
    if bad:
        msg = f"obs[{SPLIT_COL!r}] holds {', '.join(map(repr, bad[:5]))}; use train, val or test (or drop the column)"
        raise ValueError(msg)
    per_pert = values.groupby(labels[values.index].to_numpy()).agg(["nunique", "first", "size", "count"])
    mixed = per_pert.index[per_pert["nunique"] > 1]
    if len(mixed):
        msg = (
            f"obs[{SPLIT_COL!r}] gives {len(mixed)} perturbation(s) more than one split ({', '.join(mixed[:5])}); "
            "split perturbations, not cells"
        )
        raise ValueError(msg)
    missing = per_pert.index[per_pert["count"] < per_pert["size"]]
    if len(missing):
        msg = f"obs[{SPLIT_COL!r}] has no value for cells of {', '.join(missing[:5])}; give every cell its split"
        raise ValueError(msg)
    split = per_pert["first"].reindex(pd.Index(np.asarray(perts, dtype=object).astype(str)))
    return pd.Series(split.to_numpy(object), index=pd.Index(np.asarray(perts, dtype=object), name="perturbation"),
                     name=SPLIT_COL)  # fmt: skip
