"""What a web page accepts: uploads under a size limit, typed paths only inside the data folders."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

MAX_UPLOAD_ENV = "VCC_MAX_UPLOAD_MB"
DEFAULT_MAX_UPLOAD_MB = 2048.0
MB = 1024 * 1024


def check_upload_size(n_bytes: int, limit_bytes: int | None = None) -> None:
    """Refuse an upload larger than ``limit_bytes`` (default :func:`max_upload_bytes`).

    Raises
    ------
    ValueError
        Giving the size, the limit and the two ways out (a smaller file, or a higher ``VCC_MAX_UPLOAD_MB``).
    """
    limit = max_upload_bytes() if limit_bytes is None else int(limit_bytes)
    if n_bytes > limit:
        over = f"the upload is {_mb(n_bytes)}, over the limit of {_mb(limit)}"
        msg = f"{over}; use a smaller file or raise {MAX_UPLOAD_ENV}"
        raise ValueError(msg)


def _mb(n_bytes: int) -> str:
    """``2,048 MB``, ``1.5 MB``, ``0.01 MB``: three significant digits below 100 MB."""
    value = n_bytes / MB
    return f"{value:,.0f} MB" if value >= 100 else f"{value:.3g} MB"


def max_upload_bytes() -> int:
    """Upload limit in bytes: ``$VCC_MAX_UPLOAD_MB`` megabytes (MiB), 2048 by default."""
    raw = os.environ.get(MAX_UPLOAD_ENV, "").strip()
    try:
        megabytes = float(raw) if raw else DEFAULT_MAX_UPLOAD_MB
    except ValueError:
        megabytes = math.nan
    if not (math.isfinite(megabytes) and megabytes > 0):
        msg = f"{MAX_UPLOAD_ENV}={raw!r} is not a positive number of megabytes; set it to e.g. 2048"
        raise ValueError(msg)
    return int(megabytes * MB)


def confine_path(path: str | Path, allowed_dirs: Iterable[str | Path]) -> Path:
    """``path`` resolved (symlinks and ``..`` followed, relative to the working folder) if it lies inside one of
    ``allowed_dirs``; the file need not exist.

    Raises
    ------
    ValueError
        The path is outside every allowed folder (a symlink pointing out counts as outside), or unusable
        (NUL byte, symlink loop).
    """
    try:
        resolved = Path(path).resolve()
        roots = [Path(d).resolve() for d in allowed_dirs]
    except (OSError, RuntimeError, ValueError) as err:
        msg = f"{str(path)!r} is not a usable path ({err}); choose a file in the data folders"
        raise ValueError(msg) from err
    if not any(resolved.is_relative_to(root) for root in roots):
        msg = (
            f"{str(path)!r} is outside the allowed data folders; choose a file in them or add its folder to "
            "VCC_DATA_DIRS"
        )
        raise ValueError(msg)
    return resolved
