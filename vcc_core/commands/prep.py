"""``python -m vcc_core prep --pred PRED.h5ad --genes GENES.csv --out OUT.h5ad``: check a submission against the
challenge's gene list and write it compact (cell-eval's ``prep``; what differs: :mod:`vcc_core.evaluation.prep`)."""

from __future__ import annotations

from vcc_core.keys import CONTROL, PERT_COL


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "prep",
        help="check predicted cells against a gene list (order, count, cells, control) and write a minimal, "
        "compressed .h5ad (float32 CSR, log1p), as cell-eval prep checks them",
    )
    parser.add_argument("--pred", required=True, help="predicted cells .h5ad")
    parser.add_argument("--genes", required=True, help="expected genes, one per line, in order, no header")
    parser.add_argument("--out", help="output .h5ad (default: PRED with .prep.h5ad)")
    parser.add_argument("--pert-col", default=PERT_COL, help="perturbation column of obs (default: %(default)s)")
    parser.add_argument("--control", default=CONTROL, help="control label (default: %(default)s)")
    parser.add_argument("--context-col", "--celltype-col", dest="context_col", help="obs column of cell contexts")
    parser.add_argument("--encoding", type=int, choices=[32, 64], default=32, help="float bits (default: 32)")
    parser.add_argument(
        "--max-cells", type=int, default=200_000, help="most cells allowed; -1: no limit (default: %(default)s)"
    )
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from vcc_core.evaluation.prep import EXPECTED_GENES, prepare, read_gene_list

    genes = read_gene_list(args.genes)
    if len(genes) != EXPECTED_GENES:
        print(f"note: the gene list holds {len(genes):,} genes (the challenge's holds {EXPECTED_GENES:,})")
    minimal = prepare(
        args.pred,
        genes,
        pert_col=args.pert_col,
        control=args.control,
        context_col=args.context_col,
        encoding=args.encoding,
        max_cells=None if args.max_cells == -1 else args.max_cells,
    )
    out = Path(args.out) if args.out else Path(args.pred).with_suffix(".prep.h5ad")
    out.parent.mkdir(parents=True, exist_ok=True)
    minimal.write_h5ad(out, compression="gzip")
    print(f"wrote {out} ({minimal.n_obs:,} cells x {minimal.n_vars:,} genes, float{args.encoding}, log1p)")
    return 0
