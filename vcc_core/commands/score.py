"""``python -m vcc_core score --user AGG.csv --base BASE_AGG.csv``: VCC 2025 scores against a baseline, or with
``--preset vcc2026 --anchor DIR`` the VCC 2026 scores between the baseline and the replicate anchor."""

from __future__ import annotations

import sys

from vcc_core.evaluation.scoring import score_vcc2025


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "score", help="baseline-normalised scores from two agg_results.csv (cell-eval score)"
    )
    parser.add_argument("--user", required=True, help="agg_results.csv of the model")
    parser.add_argument("--base", required=True, help="agg_results.csv of the baseline")
    parser.add_argument("--out", help="write the scores to this CSV (metric, from_baseline)")
    parser.add_argument("--no-clip", action="store_true", help="keep scores below 0 (the challenge clipped them)")
    parser.add_argument("--statistic", default="mean", help="row of the tables compared (default: %(default)s)")
    parser.add_argument(
        "--preset", choices=["vcc2025", "vcc2026"], default="vcc2025", help="which challenge (default: %(default)s)"
    )
    parser.add_argument("--anchor", help="vcc2026: anchor_agg.csv of evaluate --anchor on the real data, or its folder")
    parser.add_argument("--lfc-nmae-ref", help="vcc2026: lfc_nmae_ref_agg.csv of evaluate --lfc-nmae-ref")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.preset == "vcc2026":
        return run_vcc2026(args)
    scores = score_vcc2025(args.user, args.base, statistic=args.statistic, clip=not args.no_clip)
    if args.out:
        scores.to_csv(args.out, index=False)
        print(f"wrote {args.out}", file=sys.stderr)
    print(scores.to_string(index=False, float_format=lambda v: f"{v:.6f}"))
    return 0


def run_vcc2026(args) -> int:
    from pathlib import Path

    import pandas as pd

    from vcc_core.evaluation.scoring2026 import score_2026

    if not args.anchor:
        msg = "--preset vcc2026 scores between the baseline and the replicate: give --anchor (evaluate --anchor)"
        raise ValueError(msg)
    anchor = Path(args.anchor)
    anchor = anchor / "anchor_agg.csv" if anchor.is_dir() else anchor
    means = [pd.read_csv(path, index_col=0).loc[args.statistic] for path in (args.user, args.base)]
    replicate = pd.read_csv(anchor, index_col=0)["replicate"]
    reference = None
    if args.lfc_nmae_ref:
        reference = float(pd.read_csv(args.lfc_nmae_ref, index_col=0).loc["mean", "nmae_ref_raw"])
    scores = score_2026(*means, replicate, lfc_nmae_ref=reference)
    if args.out:
        scores.to_csv(args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    print(scores.to_string(float_format=lambda v: f"{v:.6f}"))
    return 0
