"""Build the golden fixtures of cell-eval 0.8.2's ``run`` options (run by hand, not by the tests).

    .venv/bin/python bench/make_option_fixtures.py [--reference /work/refenv/bin/python]

On the input files of ``bench/make_metric_fixtures.py`` (``tests/fixtures/metrics/<case>/{real,pred}.h5ad``, left
unchanged), ``cell-eval run`` with one option at a time; each run's tables land in
``tests/fixtures/metrics/<case>/cell_eval/options/<run>/`` (the DE tables it writes are dropped, and for the
ceiling run the prediction's results, which repeat the plain ``full`` run).

``contexts``: the ``synthetic`` files with an ``obs["cell_line"]`` of two contexts, ``K562`` and ``HepG2/C3A`` (a
slash, which cell-eval turns into ``-`` in file names), alternating within each perturbation (controls included),
written to ``tests/fixtures/metrics/contexts/{real,pred}.h5ad`` and run with ``--celltype-col cell_line --ceiling``.
``embedding``: the same with an ``obsm["X_emb"]`` (:func:`embedding_files`), run with ``--embed-key X_emb --ceiling``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "fixtures" / "metrics"
RUNS = {
    "ceiling_seed7": ["--profile", "full", "--ceiling", "--ceiling-seed", "7"],
    "epsilon": ["--profile", "full", "--epsilon", "0.5"],  # large enough to move the fold-change metrics
    "cpm_filter5": ["--profile", "full", "--cpm-filter", "5"],
    "skip": ["--profile", "full", "--skip-metrics", "mae,overlap_at_50,clustering_agreement"],
    "contexts": ["--profile", "full", "--celltype-col", "cell_line", "--ceiling"],
    "embedding": ["--profile", "full", "--embed-key", "X_emb", "--ceiling"],
}
CONTEXTS = ("K562", "HepG2/C3A")


def context_files() -> Path:
    """The ``contexts`` case's input files (module docstring), built from the ``synthetic`` ones."""
    folder = DATA / "contexts"
    folder.mkdir(exist_ok=True)
    for side in ("real", "pred"):
        adata = ad.read_h5ad(DATA / "synthetic" / f"{side}.h5ad")
        within = adata.obs.groupby("target_gene", observed=True).cumcount().to_numpy()
        adata.obs["cell_line"] = np.array(CONTEXTS)[within % 2]
        adata.write_h5ad(folder / f"{side}.h5ad", compression="gzip")
    return folder


def embedding_files() -> Path:
    """The ``embedding`` case: the ``synthetic`` files with ``obsm["X_emb"]``, a seeded 12-dimensional float32
    projection of each cell's log1p values (``log1p`` of the counts on the real side)."""
    folder = DATA / "embedding"
    folder.mkdir(exist_ok=True)
    projection = np.random.default_rng(0).normal(size=(300, 12))
    for side in ("real", "pred"):
        adata = ad.read_h5ad(DATA / "synthetic" / f"{side}.h5ad")
        values = adata.X.toarray()
        values = np.log1p(values) if side == "real" else values
        adata.obsm["X_emb"] = (values @ projection).astype(np.float32)
        adata.write_h5ad(folder / f"{side}.h5ad", compression="gzip")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default="/work/refenv/bin/python", help="python of the cell-eval environment")
    parser.add_argument("--cases", nargs="+", default=["synthetic", "papalexi"])
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    args = parser.parse_args(argv)
    exe = str(Path(args.reference).with_name("cell-eval"))
    for case in args.cases:
        for run in args.runs:
            if run in ("contexts", "embedding") and case != "synthetic":
                continue
            own = {"contexts": context_files, "embedding": embedding_files}
            folder = own[run]() if run in own else DATA / case
            out = folder / "cell_eval" if run in own else folder / "cell_eval" / "options" / run
            out.mkdir(parents=True, exist_ok=True)
            command = [exe, "run", "-ap", str(folder / "pred.h5ad"), "-ar", str(folder / "real.h5ad")]
            command += ["-o", str(out), "--pert-col", "target_gene", "--control-pert", "non-targeting"]
            command += ["--num-threads", "2", *RUNS[run]]
            print("+", " ".join(command[1:]), file=sys.stderr)
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name in ("real_de.csv", "pred_de.csv"):
                (out / name).unlink(missing_ok=True)
            if run in own:
                for de in out.glob("*_de.csv"):
                    de.unlink()
            if run.startswith("ceiling"):
                for name in ("results.csv", "agg_results.csv"):
                    (out / name).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
