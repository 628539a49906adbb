"""Training time of every registered model on a dataset (fit on train, early stopping on val, predict test).

Times the uncached computation, so the figure is the cold cost a first visitor pays; the device is
``VCC_DEVICE`` or cuda when present.

    python bench/bench_train.py                           # the default dataset (small preset)
    python bench/bench_train.py --data /path/vcc.h5ad     # VCC size
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from vcc_core.data.dataset import open_dataset, split_perts
from vcc_core.device import get_device
from vcc_core.models import REGISTRY
from vcc_core.models.training import train_predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="small", help="preset name or .h5ad path (default: small)")
    parser.add_argument("--models", default=",".join([*REGISTRY, "scaled:ridge"]))
    opts = parser.parse_args()

    start = time.perf_counter()
    dataset = open_dataset(opts.data)
    _ = dataset.adata  # read the cells now, so the first model does not pay for it
    n_train = len(split_perts(dataset, "train"))
    print(f"opened {opts.data} in {time.perf_counter() - start:.1f} s: {dataset.adata.shape}, {n_train} train perts")
    print(f"device {get_device()}")
    for model in opts.models.split(","):
        start = time.perf_counter()
        train_predict.uncached(dataset, model)
        print(f"{model:>18}: {time.perf_counter() - start:7.2f} s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.2f} GB")


if __name__ == "__main__":
    main()
