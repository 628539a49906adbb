"""``vcc app [--port 8501]``: start the dashboard (the source checkout's ``app.py``) from any folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The checkout this package is installed from (``make install`` installs it editable)."""


def register(subparsers) -> None:
    parser = subparsers.add_parser("app", help="start the dashboard in a browser tab (streamlit run app.py)")
    parser.add_argument("--port", type=int, default=8501, help="port to serve on (default: %(default)s)")
    parser.add_argument("--address", default=None, help="address to listen on (default: Streamlit's, every one)")
    parser.set_defaults(func=run)


def command(port: int, address: str | None = None) -> list[str]:
    """The ``streamlit run`` command line: the checkout's settings (``.streamlit/config.toml``) and the upload
    limit of ``VCC_MAX_UPLOAD_MB`` (default 2048)."""
    if not (ROOT / "app.py").is_file():
        msg = f"no app.py beside the package ({ROOT}): install the checkout editable (make install) to use vcc app"
        raise ValueError(msg)
    upload = os.environ.get("VCC_MAX_UPLOAD_MB", "2048")
    if not upload.isdigit() or int(upload) < 1:
        msg = f"VCC_MAX_UPLOAD_MB={upload!r}: give the largest upload as a whole number of MB"
        raise ValueError(msg)
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port)]
    cmd += ["--server.maxUploadSize", upload, "--browser.gatherUsageStats", "false"]
    return cmd + (["--server.address", address] if address else [])


def run(args) -> int:
    cmd = command(args.port, args.address)
    os.chdir(ROOT)  # Streamlit reads .streamlit/config.toml from the folder it starts in
    os.execv(cmd[0], cmd)  # the server replaces this process: its signals and exit status are the user's
    return 0
