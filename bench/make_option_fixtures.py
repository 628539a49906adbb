"""Build the golden fixtures of cell-eval 0.8.2's ``run`` options (run by hand, not by the tests).

    .venv/bin/python bench/make_option_fixtures.py [--reference /work/refenv/bin/python]

On the input files of ``bench/make_metric_fixtures.py`` (``tests/fixtures/metrics/<case>/{real,pred}.h5ad``, left
unchanged), ``cell-eval run`` with one option at a time; each run's tables land in
``tests/fixtures/metrics/<case>/cell_eval/options/<run>/`` (the DE tables it writes are dropped, and for the
ceiling run the prediction's results, which repeat the plain ``full`` run).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "fixtures" / "metrics"
RUNS = {
    "ceiling_seed7": ["--profile", "full", "--ceiling", "--ceiling-seed", "7"],
    "epsilon": ["--profile", "full", "--epsilon", "0.5"],  # large enough to move the fold-change metrics
    "cpm_filter5": ["--profile", "full", "--cpm-filter", "5"],
    "skip": ["--profile", "full", "--skip-metrics", "mae,overlap_at_50,clustering_agreement"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", default="/work/refenv/bin/python", help="python of the cell-eval environment")
    parser.add_argument("--cases", nargs="+", default=["synthetic", "papalexi"])
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    args = parser.parse_args(argv)
    exe = str(Path(args.reference).with_name("cell-eval"))
    for case in args.cases:
        for run in args.runs:
            out = DATA / case / "cell_eval" / "options" / run
            out.mkdir(parents=True, exist_ok=True)
            command = [exe, "run", "-ap", str(DATA / case / "pred.h5ad"), "-ar", str(DATA / case / "real.h5ad")]
            command += ["-o", str(out), "--pert-col", "target_gene", "--control-pert", "non-targeting"]
            command += ["--num-threads", "2", *RUNS[run]]
            print("+", " ".join(command[1:]), file=sys.stderr)
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name in ("real_de.csv", "pred_de.csv"):
                (out / name).unlink(missing_ok=True)
            if run.startswith("ceiling"):
                for name in ("results.csv", "agg_results.csv"):
                    (out / name).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
