"""``python -m vcc_core baseline --real REAL.h5ad --out DIR [--kind generic|mean]``: the VCC 2026 generic-response
baseline, scored, or cell-eval's VCC 2025 mean baseline with its DE table."""

from __future__ import annotations

from pathlib import Path

from vcc_core.commands._outputs import output_folder
from vcc_core.keys import CONTROL, PERT_COL


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "baseline",
        help="the VCC 2026 generic-response baseline of a data set (cell-eval2 baseline): its predicted cells "
        "(baseline.h5ad) and its metrics (baseline_results.csv, baseline_agg.csv); --kind mean: the VCC 2025 mean "
        "baseline (cell-eval baseline): baseline.h5ad and its DE table baseline_de.csv",
    )
    parser.add_argument("--real", required=True, help="real data .h5ad, raw counts (--kind mean: or log1p)")
    parser.add_argument(
        "--kind",
        choices=["generic", "mean"],
        default="generic",
        help="generic: VCC 2026 (cell-eval2); mean: VCC 2025 (cell-eval 0.8.2) (default: %(default)s)",
    )
    parser.add_argument(
        "--as-delta", action="store_true", help="--kind mean: the control mean plus the mean perturbation delta"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of the control cells drawn (default: %(default)s)")
    parser.add_argument("--pert-col", default=PERT_COL, help="perturbation column of obs (default: %(default)s)")
    parser.add_argument("--control", default=CONTROL, help="control label (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.kind == "mean":
        return run_mean(args)
    if args.as_delta:
        msg = "--as-delta goes with --kind mean"
        raise ValueError(msg)
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


def run_mean(args) -> int:
    """cell-eval's mean baseline as a submission and the DE of its cells against their controls."""
    from vcc_core.de.wilcoxon import de_from_anndata
    from vcc_core.evaluation.mean_baseline import mean_baseline

    out = output_folder(args.out)
    common = {"pert_col": args.pert_col, "control": args.control}
    baseline = mean_baseline(args.real, as_delta=args.as_delta, **common)
    out.mkdir(parents=True, exist_ok=True)
    baseline.write_h5ad(out / "baseline.h5ad")
    de_from_anndata(baseline, **common).to_frame().to_csv(out / "baseline_de.csv", index=False)
    print(f"wrote {Path(out) / 'baseline.h5ad'} ({baseline.n_obs:,} cells) and baseline_de.csv")
    return 0
