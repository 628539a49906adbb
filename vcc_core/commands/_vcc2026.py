"""``evaluate --profile vcc2026``: the run and its optional outputs, in cell-eval2's file layout."""

from __future__ import annotations

import resource
from pathlib import Path

import pandas as pd

from vcc_core.evaluation.contexts import evaluate_contexts, write_contexts
from vcc_core.evaluation.counts_pair import read_counts_pair
from vcc_core.evaluation.scoring2026 import data_ceiling, lfc_nmae_reference, replicate_anchor, replicate_of
from vcc_core.evaluation.vcc2026 import (
    DERIVED,
    PER_PERTURBATION,
    aggregate_2026,
    evaluate_checked,
    shortest,
    write_2026,
)


def run_vcc2026(args, progress) -> int:
    common = {"pert_col": args.pert_col, "control": args.control}
    out = Path(args.out)
    if args.context_col and args.scheduler == "stream":
        msg = "--context-col runs in memory; leave --scheduler out, or stream one context file at a time"
        raise ValueError(msg)
    if args.context_col:
        if args.anchor or args.ceiling or args.lfc_nmae_ref:
            msg = "--anchor, --ceiling and --lfc-nmae-ref take one context; run them per context file"
            raise ValueError(msg)
        evaluations = evaluate_contexts(args.real, args.pred, context_col=args.context_col, progress=progress, **common)
        means = write_contexts(evaluations, out).loc["mean over contexts"]
        progress(f"wrote {len(evaluations)} context folders and {out / 'context_agg.csv'}")
    elif args.scheduler == "stream":
        if args.anchor or args.ceiling or args.lfc_nmae_ref:
            msg = "--anchor, --ceiling and --lfc-nmae-ref split the real cells in memory; leave --scheduler out"
            raise ValueError(msg)
        from vcc_core.commands.evaluate import batch_entries
        from vcc_core.scale.stream2026 import evaluate_vcc2026_streamed

        evaluation = evaluate_vcc2026_streamed(
            args.real, args.pred, batch_entries=batch_entries(args), progress=progress, **common
        )
        paths = write_2026(evaluation, out)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
        progress(f"wrote {paths[0]} and {paths[1]}; peak memory of this process {peak:.2f} GiB")
        means = aggregate_2026(evaluation).loc["mean"]
    else:
        real, pred = read_counts_pair(args.real, args.pred, **common)
        progress(f"checked real data ({real.n_obs:,} cells) and predictions ({pred.n_obs:,} cells): raw counts")
        evaluation = evaluate_checked(real, pred, progress=progress, **common)
        paths = write_2026(evaluation, out)
        progress(f"wrote {paths[0]} and {paths[1]}")
        means = aggregate_2026(evaluation).loc["mean"]
        write_extras(args, real, out, progress, common)
    print("\n".join(f"{name}\t{value:.6g}" for name, value in means.astype(float).items()))
    return 0


def write_extras(args, real, out: Path, progress, common: dict) -> None:
    """``--anchor``, ``--ceiling``, ``--lfc-nmae-ref``: each written next to the results."""
    if args.anchor:
        anchor = replicate_anchor(real, progress=progress, **common)
        long = anchor.reset_index().melt(id_vars="seed", var_name="metric")
        long.to_csv(out / "anchor_splits.csv", index=False, float_format=shortest, na_rep="NaN")
        replicate = replicate_of(anchor).rename("replicate").rename_axis("metric")
        replicate.to_csv(out / "anchor_agg.csv", float_format=shortest, na_rep="NaN")
        progress(f"wrote {out / 'anchor_agg.csv'} (replicate anchor, mean of {len(anchor)} splits)")
    if args.ceiling:
        per_pert, ceiling = data_ceiling(real, seed=args.ceiling_seed, **common)
        table = per_pert.rename("value").rename_axis("perturbation").reset_index()
        table.insert(1, "metric", "pds_cosine")
        table.to_csv(out / "ceiling_results.csv", index=False, float_format=shortest, na_rep="NaN")
        names = ["pds_cosine", *[n for n in [*PER_PERTURBATION, DERIVED] if n != "pds_cosine"]]
        agg = pd.Series({n: ceiling if n == "pds_cosine" else float("nan") for n in names}, name="ceiling")
        agg.rename_axis("metric").to_csv(out / "ceiling_agg.csv", float_format=shortest, na_rep="NaN")
        progress(f"wrote {out / 'ceiling_agg.csv'} (pds_cosine ceiling {ceiling:.4f})")
    if args.lfc_nmae_ref:
        ref = lfc_nmae_reference(real, **common)
        ref.to_csv(out / "lfc_nmae_ref.csv", float_format=shortest, na_rep="NaN")
        agg = pd.DataFrame(
            {
                "statistic": ["mean"],
                "nmae_ref_raw": [ref["nmae_ref_raw"].mean()],
                "nmae_ref_sqrt2": [ref["nmae_ref_sqrt2"].mean()],
                "n_perturbations": [len(ref)],
            }
        )
        agg.to_csv(out / "lfc_nmae_ref_agg.csv", index=False, float_format=shortest, na_rep="NaN")
        progress(f"wrote {out / 'lfc_nmae_ref_agg.csv'}")
