"""Checks on output paths, made before any work so a typo fails at once instead of after the computation."""

from __future__ import annotations

from pathlib import Path


def output_file(path: str | Path) -> Path:
    """``path`` as a file to write: its folder exists and it is not itself a folder.

    Raises ``ValueError`` naming the path and the fix.
    """
    path = Path(path)
    if path.is_dir():
        msg = f"--out {path} is a folder; give a file name such as {path / 'out.h5ad'}"
        raise ValueError(msg)
    if not path.parent.is_dir():
        msg = f"the folder of --out {path} does not exist; create {path.parent} first"
        raise ValueError(msg)
    return path


def output_folder(path: str | Path) -> Path:
    """``path`` as a folder to write into (created later if missing): it must not be an existing file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        msg = f"--out {path} is a file; give a folder for the results"
        raise ValueError(msg)
    return path
