"""``python -m vcc_core score --user AGG.csv --base BASE_AGG.csv``: VCC 2025 scores against a baseline."""

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
    parser.set_defaults(func=run)


def run(args) -> int:
    scores = score_vcc2025(args.user, args.base, statistic=args.statistic, clip=not args.no_clip)
    if args.out:
        scores.to_csv(args.out, index=False)
        print(f"wrote {args.out}", file=sys.stderr)
    print(scores.to_string(index=False, float_format=lambda v: f"{v:.6f}"))
    return 0
