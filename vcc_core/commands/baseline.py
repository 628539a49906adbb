"""``python -m vcc_core baseline --real REAL.h5ad --out DIR``: the VCC 2026 generic-response baseline, scored."""

from __future__ import annotations

from pathlib import Path

from vcc_core.commands._outputs import output_folder
from vcc_core.keys import CONTROL, PERT_COL


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "baseline",
        help="the VCC 2026 generic-response baseline of a data set (cell-eval2 baseline): its predicted cells "
        "(baseline.h5ad) and its metrics (baseline_results.csv, baseline_agg.csv)",
    )
    parser.add_argument("--real", required=True, help="real data .h5ad, raw counts")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of the control cells drawn (default: %(default)s)")
    parser.add_argument("--pert-col", default=PERT_COL, help="perturbation column of obs (default: %(default)s)")
    parser.add_argument("--control", default=CONTROL, help="control label (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from vcc_core.data.io import read_h5ad
    from vcc_core.evaluation.scoring2026 import generic_baseline
    from vcc_core.evaluation.vcc2026 import aggregate_2026, evaluate_vcc2026, write_2026

    out = output_folder(args.out)
    common = {"pert_col": args.pert_col, "control": args.control}
    real = read_h5ad(args.real)
    baseline = generic_baseline(real, seed=args.seed, **common)
    evaluation = evaluate_vcc2026(real, baseline, fractional_pred=True, **common)
    out.mkdir(parents=True, exist_ok=True)
    baseline.write_h5ad(out / "baseline.h5ad")
    results, agg = write_2026(evaluation, out)
    results.replace(out / "baseline_results.csv")
    agg.replace(out / "baseline_agg.csv")
    means = aggregate_2026(evaluation).loc["mean"].astype(float)
    print("\n".join(f"{name}\t{value:.6g}" for name, value in means.items()))
    print(f"wrote {Path(out) / 'baseline.h5ad'}, baseline_results.csv and baseline_agg.csv")
    return 0
