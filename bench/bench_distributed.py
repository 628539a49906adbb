"""Time pseudobulk in this process (streamed from the backed file) and on a Dask LocalCluster, on one file.

    .venv/bin/python bench/bench_distributed.py [--data FILE] [--preset vcc|small|tiny] [--workers 2]
        [--chunk-rows 10000] [--de] [--accuracy] [--bits 6 8 10 12 23] [--evaluate GB]

``--data``: the ``.h5ad`` to use; when it does not exist it is written first with
``python -m vcc_core simulate --preset PRESET --out FILE`` (default preset ``vcc``, into a temporary folder when
no ``--data`` is given). Steps, all on the same file:

1. in a child process, :func:`vcc_core.data.pseudobulk.pseudobulk` of the backed file (counts normalised on the fly,
   two streamed passes): the time of the call and the peak resident memory (``resource.getrusage``) of the
   process, with its peak before the call (imports, ``obs``);
2. a ``LocalCluster`` of ``--workers`` processes of one thread: the start-up time, then the pseudobulk through
   :func:`vcc_core.scale.distributed.profiles_and_de` (and with ``--de`` the pseudobulk and the exact Wilcoxon DE in
   one pass), the largest difference from step 1, and each worker's peak resident memory;
3. with ``--evaluate GB``: ``python -m vcc_core evaluate --scheduler stream --memory-gb GB`` of the file against
   itself (both sides read, normalised, pseudobulked and DE-tested in chunks), its time and peak RSS;
4. with ``--accuracy`` (loads the whole file): the exact in-process DE of the normalised values
   (:func:`~vcc_core.de.wilcoxon.de_from_anndata`) against the Dask DE binned at each of ``--bits`` mantissa
   bits: largest
   ``|dU| / (n1 n2)``, largest ``|d log10 p|`` (p floored at the smallest normal float64), the Jaccard index of
   the ``fdr < 0.05`` sets over all (perturbation, gene) pairs, and the histogram entries per stored value.

Measured with ``--data small.h5ad --preset small --de --accuracy`` (12,000 cells x 2,000 genes, 90 MiB) on a
2-core machine shared with other jobs (load average ~4, so times are rough): in process 0.63 s, peak RSS 439 MiB
(165 MiB before the call); LocalCluster start 13.6 s, pseudobulk 1.44 s, pseudobulk + exact DE 6.0 s (the
in-process exact DE alone: 1.2 s), worker peak RSS 1.1 GiB; means equal. Accuracy: the table in
:mod:`vcc_core.scale.distributed`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

IN_PROCESS_CHILD = """
import json, resource, sys, time
import numpy as np
from vcc_core.data.io import read_h5ad
from vcc_core.data.pseudobulk import pseudobulk
path, out, chunk_rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
adata = read_h5ad(path, backed=True)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
pb = pseudobulk(adata, space="counts", chunk_rows=chunk_rows)
seconds = time.perf_counter() - start
np.save(out, np.vstack([pb.control, pb.means]))
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "before_mb": before}))
"""


def data_file(data: str | None, preset: str, workdir: Path) -> Path:
    """The file to use, simulated with the command line when absent."""
    path = Path(data) if data else workdir / f"sim-{preset}.h5ad"
    if not path.exists():
        print(f"simulating preset {preset!r} -> {path}", file=sys.stderr)
        command = [sys.executable, "-m", "vcc_core", "simulate", "--preset", preset, "--out", str(path)]
        subprocess.run(command, cwd=ROOT, check=True)
    return path


def in_process(path: Path, workdir: Path, chunk_rows: int) -> tuple[dict, np.ndarray]:
    out = workdir / "in_process_means.npy"
    command = [sys.executable, "-c", IN_PROCESS_CHILD, str(path), str(out), str(chunk_rows)]
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1]), np.load(out)


def streamed_evaluation(path: Path, workdir: Path, memory_gb: float) -> dict:
    """``python -m vcc_core evaluate --scheduler stream`` of the file against itself, in a child: time, peak RSS."""
    out = workdir / "streamed"
    command = [sys.executable, "-m", "vcc_core", "evaluate", "--real", str(path), "--pred", str(path)]
    command += ["--out", str(out), "--scheduler", "stream", "--memory-gb", str(memory_gb)]
    command = ["/usr/bin/time", "-f", "%e %M", *command]
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    seconds, peak_kib = done.stderr.strip().splitlines()[-1].split()
    return {"seconds": float(seconds), "peak_mb": int(peak_kib) / 1024, "log": done.stderr}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def on_dask(path: Path, args) -> dict:
    from distributed import Client, LocalCluster

    from vcc_core.scale import distributed as vd

    report = {}
    start = time.perf_counter()
    with (
        LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        client.run(lambda: __import__("vcc_core.scale.distributed"))
        report["start_s"] = time.perf_counter() - start
        report["worker_base_mb"] = max(client.run(peak_mb).values())
        source = vd.open_source(path)
        start = time.perf_counter()
        ((profiles, _),) = vd.profiles_and_de([source], de=False, chunk_rows=args.chunk_rows)
        report["pseudobulk_s"] = time.perf_counter() - start
        report["means"] = np.vstack([profiles.control, profiles.means])
        if args.de:
            start = time.perf_counter()
            vd.profiles_and_de([source], de=True, chunk_rows=args.chunk_rows)
            report["pseudobulk_de_s"] = time.perf_counter() - start
        report["worker_peak_mb"] = max(client.run(peak_mb).values())
        if args.accuracy:
            report["accuracy"] = accuracy(path, source, args)
    return report


def accuracy(path: Path, source, args) -> list[dict]:
    """Binned Dask DE against the exact in-process DE of the normalised values."""
    from vcc_core.data.io import read_h5ad
    from vcc_core.data.normalize import log1p_normalize
    from vcc_core.de import histogram as rh
    from vcc_core.de.wilcoxon import de_from_anndata
    from vcc_core.scale import distributed as vd

    normed = log1p_normalize(read_h5ad(path))
    normed.obs["target_gene"] = normed.obs["target_gene"].astype(str)
    start = time.perf_counter()
    exact = de_from_anndata(normed)
    print(f"in-process exact DE of the normalised values: {time.perf_counter() - start:.2f} s", file=sys.stderr)
    pairs = exact.n_cells[:, None] * float(exact.n_control)
    log_p = np.log10(np.maximum(exact.pvalue, np.finfo(float).tiny))
    rows = []
    for bits in args.bits:
        ((_, de),) = vd.profiles_and_de([source], de=True, mantissa_bits=bits, chunk_rows=args.chunk_rows)
        called, truth = de.fdr < 0.05, exact.fdr < 0.05
        entries = rh.entry_histogram(normed.X, source.de_codes, n_groups=exact.n_cells.size + 1, mantissa_bits=bits)
        rows.append(
            {
                "bits": bits,
                "max_dU_rel": float(np.max(np.abs(de.statistic - exact.statistic) / pairs)),
                "max_dlog10p": float(np.max(np.abs(np.log10(np.maximum(de.pvalue, np.finfo(float).tiny)) - log_p))),
                "jaccard": float((called & truth).sum() / max((called | truth).sum(), 1)),
                "de_calls": int(called.sum()),
                "exact_calls": int(truth.sum()),
                "entries_per_value": entries.keys.size / normed.X.nnz,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help=".h5ad file (simulated there when absent)")
    parser.add_argument("--preset", default="vcc", choices=["vcc", "small", "tiny"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    parser.add_argument("--de", action="store_true", help="also time pseudobulk + exact DE on Dask")
    parser.add_argument("--accuracy", action="store_true", help="binned DE against the exact in-process DE")
    parser.add_argument("--bits", type=int, nargs="+", default=[6, 8, 10, 12, 23])
    parser.add_argument(
        "--evaluate", type=float, metavar="GB", help="also time the streamed evaluation of the file against itself"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = data_file(args.data, args.preset, Path(tmp))
        ours, means = in_process(path, Path(tmp), args.chunk_rows)
        dask_report = on_dask(path, args)
        streamed = streamed_evaluation(path, Path(tmp), args.evaluate) if args.evaluate else None
        size_mib = path.stat().st_size / 2**20
    print(f"file: {path} ({size_mib:.0f} MiB), chunks of {args.chunk_rows} rows")
    print(
        f"in process (streamed, backed): pseudobulk {ours['seconds']:.2f} s, peak RSS {ours['peak_mb']:.0f} MiB "
        f"(before the call {ours['before_mb']:.0f} MiB)"
    )
    print(
        f"Dask LocalCluster, {args.workers} processes x 1 thread: start {dask_report['start_s']:.2f} s, "
        f"pseudobulk {dask_report['pseudobulk_s']:.2f} s",
        end="",
    )
    if "pseudobulk_de_s" in dask_report:
        print(f", pseudobulk + exact DE {dask_report['pseudobulk_de_s']:.2f} s", end="")
    print(
        f"; worker peak RSS {dask_report['worker_peak_mb']:.0f} MiB (after imports "
        f"{dask_report['worker_base_mb']:.0f} MiB)"
    )
    print(f"largest |difference| of the means: {np.max(np.abs(dask_report['means'] - means)):.3g}")
    for row in dask_report.get("accuracy", []):
        print(json.dumps(row))
    if streamed:
        print(streamed["log"].rstrip())
        print(
            f"streamed evaluation of the file against itself (--memory-gb {args.evaluate}): "
            f"{streamed['seconds']:.1f} s, peak RSS {streamed['peak_mb']:.0f} MiB (whole process)"
        )


if __name__ == "__main__":
    main()
