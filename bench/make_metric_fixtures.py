"""Build the cell-eval golden fixtures under ``tests/fixtures/metrics`` (run by hand, not by the tests).

    .venv/bin/python bench/make_metric_fixtures.py [--reference /work/refenv/bin/python]

Three cases, each a real/prediction/baseline triple of small ``.h5ad`` files plus what cell-eval 0.8.2
(with pdex 0.3.0) writes for them:

- ``synthetic``: ``simulate("tiny")`` counts as the real data; the prediction is log1p-valued cells
  around shrunken, noisy real pseudobulk means, with resampled real control cells.
- ``papalexi``: 10 perturbations of the Papalexi 2021 screen (``unassigned`` dropped, cells capped);
  the prediction is raw counts: each perturbation's cells are drawn from its own cells and from a
  neighbouring perturbation's, so the prediction is normalised to its own median by cell-eval.

- ``ties``: 40 simulated perturbations, profile ``anndata`` only; some predictions are exact copies of the
  predicted controls, so cosine distances tie (rank order then follows ``np.argsort``).

For each case ``cell-eval run`` is called on pred and on the cell-eval mean baseline (``cell-eval baseline``)
for each profile, then ``cell-eval score`` compares the two. Outputs land in
``tests/fixtures/metrics/<case>/cell_eval/<run>/`` (``<run>`` = profile, ``base_<profile>`` for the baseline).
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from vcc_core.data.normalize import log1p_normalize
from vcc_core.data.pseudobulk import pseudobulk
from vcc_core.data.simulate import simulate
from vcc_core.keys import CONTROL, PERT_COL

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "metrics"
PAPALEXI = ROOT.parent / "shared" / "data" / "papalexi2021_sceptredata_lowmoi.h5ad"
PAPALEXI_PERTS = ["STAT1", "JAK2", "IRF1", "IFNGR1", "IFNGR2", "SMAD4", "CUL3", "BRD4", "ETV7", "CMTM6"]


def plain(adata: ad.AnnData) -> ad.AnnData:
    """Only X, the perturbation column and gene names: keeps the fixtures small and neutral."""
    obs = pd.DataFrame({PERT_COL: adata.obs[PERT_COL].astype(str).to_numpy()}, index=adata.obs_names.astype(str))
    return ad.AnnData(X=adata.X, obs=obs, var=pd.DataFrame(index=adata.var_names.astype(str)))


def synthetic_case(rng: np.random.Generator) -> tuple[ad.AnnData, ad.AnnData]:
    real = plain(simulate("tiny"))
    prof = pseudobulk(real, space="counts")
    norm = log1p_normalize(real)
    cells = real.obs[PERT_COL].to_numpy()
    blocks, labels = [], []
    # Each predicted delta mixes its own real delta with another perturbation's, so PDS ranks vary.
    weight, other = rng.uniform(0.2, 1.0, prof.perts.size), np.roll(np.arange(prof.perts.size), 1)
    delta = weight[:, None] * prof.delta + (1 - weight[:, None]) * prof.delta[other]
    for i, pert in enumerate(prof.perts):
        mean = prof.control + 0.7 * delta[i] + rng.normal(0, 0.02, prof.control.size)
        n = int((cells == pert).sum())
        blocks.append(np.clip(mean + rng.normal(0, 0.3, (n, mean.size)), 0, None))
        labels += [pert] * n
    ctrl_rows = np.flatnonzero(cells == CONTROL)
    blocks.append(norm.X[rng.choice(ctrl_rows, ctrl_rows.size, replace=True)].toarray())
    labels += [CONTROL] * ctrl_rows.size
    x = np.round(np.vstack(blocks), 2).astype(np.float32)  # 2 decimals: still log1p-like, compresses well
    pred = ad.AnnData(X=sparse.csr_matrix(x), obs=pd.DataFrame({PERT_COL: labels}), var=real.var.copy())
    pred.obs_names = [f"p{i}" for i in range(pred.n_obs)]
    return real, pred


def papalexi_case(rng: np.random.Generator) -> tuple[ad.AnnData, ad.AnnData]:
    full = ad.read_h5ad(PAPALEXI)
    labels = full.obs[PERT_COL].astype(str).to_numpy()
    keep = []
    for pert, cap in [(CONTROL, 600)] + [(p, 120) for p in PAPALEXI_PERTS]:
        rows = np.flatnonzero(labels == pert)
        keep.append(np.sort(rng.choice(rows, min(cap, rows.size), replace=False)))
    real = plain(full[np.concatenate(keep)].copy())
    cells = real.obs[PERT_COL].to_numpy()
    pick = []
    for i, pert in enumerate([CONTROL, *PAPALEXI_PERTS]):
        own = np.flatnonzero(cells == pert)
        other = np.flatnonzero(cells == PAPALEXI_PERTS[i % len(PAPALEXI_PERTS)]) if pert != CONTROL else own
        pick.append((pert, np.concatenate([rng.choice(own, own.size // 2 + 10), rng.choice(other, own.size // 3)])))
    rows = np.concatenate([r for _, r in pick])
    pred = ad.AnnData(
        X=real.X[rows].copy(),
        obs=pd.DataFrame({PERT_COL: np.concatenate([[p] * r.size for p, r in pick])}),
        var=real.var.copy(),
    )
    pred.obs_names = [f"p{i}" for i in range(pred.n_obs)]
    return real, pred


def ties_case(rng: np.random.Generator) -> tuple[ad.AnnData, ad.AnnData]:
    """40 perturbations (more than numpy's 16-element insertion-sort cut-off); every fifth is predicted by a copy
    of the predicted control cells, a zero delta whose cosine distance to every real delta is exactly 1 (a tie)."""
    real = plain(simulate("tiny", n_genes=150, n_perts=40, cells_per_pert=15, n_control=60))
    norm = log1p_normalize(real).X.toarray()
    cells = real.obs[PERT_COL].to_numpy()
    control = norm[cells == CONTROL]
    blocks, labels = [control], [CONTROL] * control.shape[0]
    perts = np.unique(cells[cells != CONTROL])
    for i, pert in enumerate(perts):
        own = norm[cells == pert]
        if i % 5 == 0:
            block = control
        else:
            mix = norm[cells == perts[(i + 1) % perts.size]]
            block = np.clip(
                np.vstack([own, mix[: own.shape[0] // 2]]) + rng.normal(0, 0.05, (1, own.shape[1])), 0, None
            )
        blocks.append(block)
        labels += [pert] * block.shape[0]
    x = np.round(np.vstack(blocks), 2).astype(np.float32)
    pred = ad.AnnData(X=sparse.csr_matrix(x), obs=pd.DataFrame({PERT_COL: labels}), var=real.var.copy())
    pred.obs_names = [f"p{i}" for i in range(pred.n_obs)]
    return real, pred


def cell_eval(python: str, *args: str) -> None:
    exe = str(Path(python).with_name("cell-eval"))
    print("+ cell-eval", " ".join(args), file=sys.stderr)
    subprocess.run([exe, *args], check=True, stdout=subprocess.DEVNULL)


def run_case(name: str, real: ad.AnnData, pred: ad.AnnData, python: str, *, profiles: tuple[str, ...]) -> None:
    case = OUT / name
    shutil.rmtree(case, ignore_errors=True)
    (case / "cell_eval").mkdir(parents=True)
    real.write_h5ad(case / "real.h5ad", compression="gzip")
    pred.write_h5ad(case / "pred.h5ad", compression="gzip")
    common = ["--pert-col", PERT_COL, "--control-pert", CONTROL, "--num-threads", "2"]
    cell_eval(python, "baseline", "-a", str(case / "real.h5ad"), "-o", str(case / "base.h5ad"), *common)
    for adata, prefix in (("pred", ""), ("base", "base_")):
        for profile in profiles:
            outdir = case / "cell_eval" / f"{prefix}{profile}"
            args = ["run", "-ap", str(case / f"{adata}.h5ad"), "-ar", str(case / "real.h5ad"), "-o", str(outdir)]
            cell_eval(python, *args, "--profile", profile, *common)
    for profile in profiles:
        out = case / "cell_eval" / f"score_{profile}.csv"
        agg = [str(case / "cell_eval" / r / "agg_results.csv") for r in (profile, f"base_{profile}")]
        cell_eval(python, "score", "-i", agg[0], "-I", agg[1], "-o", str(out))
    for de in case.glob("cell_eval/*/*_de.csv"):
        if de.parent.name == "full" or (de.name == "pred_de.csv" and de.parent.name == "base_full"):
            with open(de, "rb") as src, gzip.open(f"{de}.gz", "wb", compresslevel=9) as dst:
                shutil.copyfileobj(src, dst)
        de.unlink()  # the other runs' tables repeat the "full" run's (real DE is the same in every run)
    _shrink_baseline(case / "base.h5ad")


def _shrink_baseline(path: Path) -> None:
    """Rewrite cell-eval's dense baseline file compressed (the values are unchanged)."""
    base = ad.read_h5ad(path)
    base.write_h5ad(path, compression="gzip")


CASES = {
    "synthetic": (synthetic_case, 0, ("full", "vcc")),
    "papalexi": (papalexi_case, 1, ("full", "vcc")),
    "ties": (ties_case, 2, ("anndata",)),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default="/work/refenv/bin/python", help="python of the cell-eval environment")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES), help="cases to (re)build")
    args = parser.parse_args(argv)
    for name in args.cases:
        build, seed, profiles = CASES[name]
        run_case(name, *build(np.random.default_rng(seed)), args.reference, profiles=profiles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
