"""``python -m vcc_core evaluate --real REAL.h5ad --pred PRED.h5ad --out DIR``: score a prediction like cell-eval."""

from __future__ import annotations

import resource
import sys
import time

from vcc_core.commands._outputs import output_folder
from vcc_core.keys import CONTROL, CURRENT, PERT_COL, REFERENCES

PROFILE_NAMES = ("vcc", "minimal", "pds", "de", "anndata", "full", "bulk", "extra", "all", "vcc2026")
"""``vcc_core.metrics.PROFILES`` and vcc2026, written out: reading them would load every metric (and torch) even
for a command that needs none of them (a test checks the two lists agree)."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="per-perturbation metrics of a prediction (results.csv, agg_results.csv in cell-eval's layout)",
    )
    parser.add_argument("--real", required=True, help="real data .h5ad (counts or log1p)")
    parser.add_argument(
        "--pred", help="predicted cells .h5ad, same genes, with control cells (optional with --ceiling: ceiling only)"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--profile",
        choices=PROFILE_NAMES,
        default="vcc",
        help="metric set; vcc2026: the VCC 2026 set of cell-eval2 --preset vcc2026, on raw counts, written in "
        "cell-eval2's layout (default: %(default)s)",
    )
    parser.add_argument(
        "--context-col",
        "--celltype-col",
        dest="context_col",
        help="obs column of cell contexts (cell lines; cell-eval's --celltype-col): each context scored on its own; "
        "VCC 2025 profiles write <context>_results.csv as cell-eval, --profile vcc2026 a folder per context and "
        "their mean in context_agg.csv",
    )
    parser.add_argument("--pert-col", default=PERT_COL, help="perturbation column of obs (default: %(default)s)")
    parser.add_argument("--control", default=CONTROL, help="control label (default: %(default)s)")
    parser.add_argument(
        "--scheduler",
        choices=["inprocess", "stream", "dask"],
        default="inprocess",
        help="where pseudobulk and DE run: in this process with the files in memory, in this process reading the "
        "files in chunks of rows (memory bounded by --memory-gb; --profile vcc2026 too), or on Dask (--profile "
        "vcc2026 not) (default: %(default)s)",
    )
    parser.add_argument(
        "--memory-gb",
        type=float,
        default=1.0,
        help="--scheduler stream: memory for the DE's batch of genes, in GiB (default: %(default)s)",
    )
    parser.add_argument(
        "--address", help="Dask scheduler (tcp://host:8786) for --scheduler dask; default: a LocalCluster here"
    )
    parser.add_argument(
        "--de-bits",
        type=int,
        default=23,
        help="--scheduler dask: float32 mantissa bits kept when ranking values; 23 is exact (default: %(default)s)",
    )
    parser.add_argument(
        "--epsilon",
        type=float,
        default=0.0,
        help="pseudocount of the DE fold changes, log2((t + e) / (r + e)) (VCC 2025 profiles, as cell-eval; "
        "default: %(default)s)",
    )
    parser.add_argument(
        "--cpm-filter",
        type=float,
        help="pdex's pooled-CPM floor T: a gene's DE is dropped for a perturbation when its pooled CPM is at most T "
        "in both the perturbation and the control (VCC 2025 profiles, as cell-eval; default: off)",
    )
    parser.add_argument(
        "--reference",
        choices=REFERENCES,
        default=CURRENT,
        help="conventions to follow: cell-eval 0.8.2 with pdex 0.3.0, or cell-eval 0.6.6 with pdex 0.1.27, which "
        "computed the VCC 2025 leaderboard: its DE tables and its AUCs' reading of them (not with --cpm-filter or "
        "--epsilon) (default: %(default)s)",
    )
    parser.add_argument(
        "--embed-key",
        help="obsm key of an embedding on both sides: the L2 and cosine PDS computed on it (VCC 2025 profiles, as "
        "cell-eval)",
    )
    parser.add_argument(
        "--skip-metrics", help="comma-separated metrics of the profile to leave out (VCC 2025 profiles, as cell-eval)"
    )
    parser.add_argument("--anchor", action="store_true", help="--profile vcc2026: also the replicate anchor")
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="also the data ceiling of the real data: cell-eval's disjoint halves with Spearman-Brown "
        "(ceiling_results.csv, agg_ceiling_results.csv), or cell-eval2's with --profile vcc2026",
    )
    parser.add_argument("--ceiling-seed", type=int, default=0, help="seed of the ceiling's split (default: 0)")
    parser.add_argument(
        "--lfc-nmae-ref", action="store_true", help="--profile vcc2026: also the lfc_nmae reference (seed 0)"
    )
    parser.set_defaults(func=run)


VCC2026_ONLY = {"--anchor": "anchor", "--lfc-nmae-ref": "lfc_nmae_ref"}


def run(args) -> int:
    output_folder(args.out)
    start = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f} s] {message}", file=sys.stderr, flush=True)

    if args.address and args.scheduler != "dask":
        msg = "--address is the Dask scheduler of --scheduler dask; add --scheduler dask or leave --address out"
        raise ValueError(msg)
    if args.pred is None and not args.ceiling:
        msg = "--pred is required unless --ceiling is given (the data ceiling of the real data alone)"
        raise ValueError(msg)
    if args.profile == "vcc2026":
        options = (args.skip_metrics, args.epsilon, args.embed_key, args.cpm_filter is not None)
        if any(options) or args.reference != CURRENT or args.pred is None:
            msg = (
                "--profile vcc2026 scores a prediction (--pred) on its own terms "
                "(no --skip-metrics, --epsilon, --embed-key, --cpm-filter, --reference)"
            )
            raise ValueError(msg)
        return run_vcc2026(args, progress)
    extras = [flag for flag, on in VCC2026_ONLY.items() if getattr(args, on)]
    if extras:
        msg = f"{', '.join(extras)} go(es) with --profile vcc2026"
        raise ValueError(msg)
    in_memory = (args.ceiling, args.context_col, args.embed_key, args.cpm_filter is not None, args.reference != CURRENT)
    if any(in_memory) and args.scheduler != "inprocess":
        msg = (
            "--ceiling, --context-col, --embed-key, --cpm-filter and --reference read the cells in memory; "
            "leave --scheduler out"
        )
        raise ValueError(msg)
    if args.scheduler != "dask" and not (args.scheduler == "inprocess" and plain_inputs(args)):
        import_anndata_without_dask()
    from vcc_core.evaluation.evaluate import evaluate
    from vcc_core.evaluation.results import write_results

    common = {"pert_col": args.pert_col, "control": args.control, "progress": progress}
    common["metrics"] = chosen_metrics(args.profile, args.skip_metrics)
    common["epsilon"] = args.epsilon
    if args.embed_key:
        common["embed_key"] = args.embed_key
    if args.cpm_filter is not None:
        common["cpm_filter"] = args.cpm_filter
    if args.reference != CURRENT:
        if args.ceiling:
            msg = f"--reference {args.reference} scores a prediction in this process (no --ceiling, no --scheduler)"
            raise ValueError(msg)
        common["reference"] = args.reference
    if args.context_col:
        return run_contexts(args, common, progress)
    if args.ceiling:
        from vcc_core.evaluation.data_ceiling import data_ceiling

        per_pert, ceiling = data_ceiling(args.real, seed=args.ceiling_seed, **common)
        paths = write_results(per_pert, ceiling, args.out, basename="ceiling_results.csv")
        progress(f"wrote {paths[0]} and {paths[1]} (seed {args.ceiling_seed})")
        if args.pred is None:
            return 0
    if args.scheduler == "dask":
        from vcc_core.scale.distributed import evaluate as evaluate_on_dask

        results, agg = evaluate_on_dask(
            args.real, args.pred, address=args.address, mantissa_bits=args.de_bits, **common
        )
    elif args.scheduler == "stream":
        from vcc_core.scale.stream import evaluate as evaluate_streamed

        results, agg = evaluate_streamed(args.real, args.pred, batch_entries=batch_entries(args), **common)
    else:
        results, agg = evaluate(args.real, args.pred, **common)
    paths = write_results(results, agg, args.out)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    progress(f"wrote {paths[0]} and {paths[1]}; peak memory of this process {peak:.2f} GiB")
    means = agg.loc["mean"].astype(float)
    print("\n".join(f"{name}\t{value:.6g}" for name, value in means.items()))
    return 0


def plain_inputs(args) -> bool:
    """Whether the in-process evaluation reads both files without anndata (:mod:`vcc_core.data.cells`)."""
    from vcc_core.data.cells import plain_file

    needs_anndata = args.ceiling or args.context_col or args.embed_key
    return not needs_anndata and all(plain_file(p, pert_col=args.pert_col) for p in (args.real, args.pred))


def import_anndata_without_dask() -> None:
    """Import anndata with dask hidden from it, unless either is imported already (then nothing changes).

    Where dask is installed, anndata imports ``dask.array`` (0.3-0.4 s, a tenth of a whole evaluation) only to
    recognise dask arrays in an AnnData; the in-process and streamed evaluations never hold one. anndata then sees
    no dask for the rest of the process, and dask itself can still be imported by whatever needs it.
    """
    if "anndata" in sys.modules or "dask" in sys.modules:
        return
    sys.modules["dask"] = None  # an import of dask, or a find_spec of it, now finds nothing
    try:
        import anndata  # noqa: F401
    finally:
        del sys.modules["dask"]


def run_contexts(args, common: dict, progress) -> int:
    """``--context-col`` with a VCC 2025 profile: each context on its own, its tables named after it (as
    ``cell-eval run --celltype-col``: ``<context>_results.csv``, ``<context>_agg_results.csv``, and the ceiling's)."""
    from vcc_core.evaluation.contexts import split_contexts
    from vcc_core.evaluation.data_ceiling import data_ceiling
    from vcc_core.evaluation.evaluate import evaluate
    from vcc_core.evaluation.results import write_results

    for name, (real, pred) in split_contexts(args.real, args.pred, context_col=args.context_col).items():
        progress(f"context {name}")
        if args.ceiling:
            per_pert, ceiling = data_ceiling(real, seed=args.ceiling_seed, **common)
            write_results(per_pert, ceiling, args.out, basename="ceiling_results.csv", prefix=name)
        if pred is not None:
            results, agg = evaluate(real, pred, **common)
            write_results(results, agg, args.out, prefix=name)
    progress(f"wrote each context's tables into {args.out}")
    return 0


def chosen_metrics(profile: str, skip: str | None) -> list[str]:
    """The metrics of ``profile`` less the comma-separated names ``skip``; an unknown name is refused."""
    from vcc_core.metrics import REGISTRY, profile_metrics

    names = profile_metrics(profile)
    skipped = [s.strip() for s in (skip or "").split(",") if s.strip()]
    unknown = [s for s in skipped if s not in REGISTRY]
    if unknown:
        msg = f"--skip-metrics: unknown metric(s) {', '.join(unknown)}; known: {', '.join(REGISTRY)}"
        raise ValueError(msg)
    return [n for n in names if n not in skipped]


def batch_entries(args) -> int:
    """The streamed DE's batch of values that ``--memory-gb`` allows (4 bytes per value)."""
    return max(1, int(args.memory_gb * 2**30) // 4)


def run_vcc2026(args, progress) -> int:
    from vcc_core.commands._vcc2026 import run_vcc2026 as run_profile

    if args.scheduler == "dask":
        msg = "--profile vcc2026 runs in this process or streamed (--scheduler stream), not on Dask"
        raise ValueError(msg)
    return run_profile(args, progress)
