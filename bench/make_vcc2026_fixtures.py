"""Build the cell-eval2 (VCC 2026) golden fixtures under ``tests/fixtures/vcc2026`` (run by hand, not by the tests).

    .venv/bin/python bench/make_vcc2026_fixtures.py [--reference /work/refenv2/bin/cell-eval2]

The reference environment holds ``cell-eval2==0.20.0`` and ``pdex==0.3.0`` (its CPU DE engine), installed apart
from the project (``python -m venv /work/refenv2 && /work/refenv2/bin/pip install cell-eval2==0.20.0
pdex==0.3.0``). Two cases, both raw counts as cell-eval2 requires:

- ``papalexi``: the Papalexi subset of ``tests/fixtures/metrics/papalexi`` (real and predicted cells);
- ``synthetic``: the ``tiny`` simulator preset (seed 0) as the real data and a prediction of resampled real cells
  (70% of each perturbation's cells drawn from its own, 30% from the next one's; controls resampled; seed 0);
- ``shape2``: another shape (24 perturbations x 40 cells + 200 controls, 400 genes, seed 3) with 80 barely
  expressed genes appended (Poisson 0.002 per cell: the CPM gate drops them), resampled prediction (seed 1);
- ``paste``: ``tiny`` at seed 0 predicted by control cells: the first half of the perturbations by an exact copy
  of every control cell (predicted effect exactly 0: all PDS distances tie), the rest by control cells drawn with
  replacement (profiles that barely vary: the noise budget ``rho`` binds).

For each case: ``run --preset vcc2026 --pert-col target_gene --write-degenes --anchor --ceiling --lfc-nmae-ref``
(into ``run/``), ``baseline --preset vcc2026 --pert-col target_gene`` (into ``baseline/``) and ``score`` of the
run's aggregate against the baseline's with the anchor and the lfc_nmae reference (``score.csv``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
OUT = ROOT / "tests" / "fixtures" / "vcc2026"
COMMON = ["--preset", "vcc2026", "--pert-col", "target_gene"]


def synthetic_pair(folder: Path) -> tuple[Path, Path]:
    """The ``tiny`` preset and a prediction of resampled real cells, both raw counts."""
    import anndata as ad

    from bench.bench_evaluate import resampled_prediction
    from vcc_core.data.simulate import simulate
    from vcc_core.keys import PERT_COL

    real = simulate("tiny", seed=0)
    real_path, pred_path = folder / "real.h5ad", folder / "pred.h5ad"
    ad.AnnData(X=real.X, obs=real.obs[[PERT_COL]].copy(), var=real.var[[]].copy()).write_h5ad(real_path)
    resampled_prediction(real, seed=0).write_h5ad(pred_path)
    return real_path, pred_path


def write_pair(real, pred, folder: Path) -> tuple[Path, Path]:
    import anndata as ad

    from vcc_core.keys import PERT_COL

    real_path, pred_path = folder / "real.h5ad", folder / "pred.h5ad"
    ad.AnnData(X=real.X, obs=real.obs[[PERT_COL]].copy(), var=real.var[[]].copy()).write_h5ad(real_path)
    pred.write_h5ad(pred_path)
    return real_path, pred_path


def shape2_pair(folder: Path) -> tuple[Path, Path]:
    """24 x 40 cells + 200 controls over 400 genes and 80 barely expressed ones; a resampled prediction."""
    import anndata as ad
    import numpy as np
    import pandas as pd
    from scipy import sparse

    from bench.bench_evaluate import resampled_prediction
    from vcc_core.data.simulate import SimConfig, simulate

    sim = simulate(SimConfig(n_genes=400, n_perts=24, cells_per_pert=40, n_control=200, n_programs=5, seed=3))
    low = np.random.default_rng(3).poisson(0.002, size=(sim.n_obs, 80)).astype(np.float32)
    var = pd.DataFrame(index=[*map(str, sim.var_names), *(f"LOW{i}" for i in range(80))])
    real = ad.AnnData(X=sparse.hstack([sim.X, sparse.csr_matrix(low)], format="csr"), obs=sim.obs, var=var)
    return write_pair(real, resampled_prediction(real, seed=1), folder)


def paste_pair(folder: Path) -> tuple[Path, Path]:
    """``tiny`` (seed 0) predicted by control cells: exact copies for the first half, draws for the rest."""
    import anndata as ad
    import numpy as np
    import pandas as pd

    from vcc_core.data.simulate import simulate
    from vcc_core.keys import CONTROL, PERT_COL

    real = simulate("tiny", seed=0)
    labels = real.obs[PERT_COL].astype(str).to_numpy()
    control = np.flatnonzero(labels == CONTROL)
    names = sorted(set(labels) - {CONTROL})
    rng = np.random.default_rng(2)
    rows, out = [control], [CONTROL] * control.size
    for i, name in enumerate(names):
        n = int((labels == name).sum())
        picked = control if i < len(names) // 2 else rng.choice(control, n)
        rows.append(picked)
        out += [name] * picked.size
    pred = ad.AnnData(X=real.X[np.concatenate(rows)], obs=pd.DataFrame({PERT_COL: out}), var=real.var[[]].copy())
    pred.obs_names = [f"p{i}" for i in range(pred.n_obs)]
    return write_pair(real, pred, folder)


def run_case(tool: str, real: Path, pred: Path, out: Path) -> None:
    extra = ["--write-degenes", "--anchor", "--ceiling", "--lfc-nmae-ref"]
    subprocess.run([tool, "run", "-ar", str(real), "-ap", str(pred), "-o", str(out / "run"), *COMMON, *extra],
                   check=True)  # fmt: skip
    subprocess.run([tool, "baseline", "-ar", str(real), "-o", str(out / "baseline"), *COMMON], check=True)
    score = [tool, "score", "--user-agg", str(out / "run" / "agg_results.csv")]
    score += ["--baseline-agg", str(out / "baseline" / "baseline_agg.csv"), "-o", str(out / "score.csv")]
    score += ["--baseline-meta", str(out / "baseline" / "baseline_meta.json")]
    score += ["--anchor", str(out / "run")]  # the folder: the anchor with its anchor_meta.json
    score += ["--lfc-nmae-ref", str(out / "run" / "lfc_nmae_ref_agg.csv")]
    subprocess.run(score, check=True)


CASES = {"papalexi": None, "synthetic": synthetic_pair, "shape2": shape2_pair, "paste": paste_pair}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default="/work/refenv2/bin/cell-eval2", help="the cell-eval2 command")
    parser.add_argument("cases", nargs="*", default=list(CASES), help="cases to (re)build (default: all)")
    args = parser.parse_args(argv)
    for case in args.cases:
        out = OUT / case
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        if case == "papalexi":
            source = ROOT / "tests" / "fixtures" / "metrics" / "papalexi"
            real, pred = out / "real.h5ad", out / "pred.h5ad"
            shutil.copy(source / "real.h5ad", real)
            shutil.copy(source / "pred.h5ad", pred)
        else:
            real, pred = CASES[case](out)
        run_case(args.reference, real, pred, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
