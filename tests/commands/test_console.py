"""The installed ``vcc`` command (``make install``): the CLI and the dashboard from any folder, real processes."""

import os
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VCC = Path(sys.executable).parent / "vcc"


@pytest.fixture
def vcc():
    if not VCC.is_file():
        pytest.skip("the project is not installed in this environment (make install installs it)")
    return str(VCC)


def test_the_command_works_from_any_folder(vcc, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([vcc, "--help"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "app" in done.stdout
    assert "evaluate" in done.stdout
    done = subprocess.run([sys.executable, "-m", "vcc_core", "cache", "info"], cwd=tmp_path, capture_output=True,
                          text=True, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_vcc_app_serves_the_dashboard(vcc, tmp_path):
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "VCC_MAX_UPLOAD_MB": "64"}
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([vcc, "app", "--port", str(port), "--address", "127.0.0.1"], cwd=tmp_path, env=env,
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                    assert reply.read() == b"ok"
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"vcc app did not serve:\n{(tmp_path / 'server.log').read_text()}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert "Inotify" not in (tmp_path / "server.log").read_text()


def test_vcc_app_refuses_a_bad_upload_limit(vcc, tmp_path):
    env = {**os.environ, "VCC_MAX_UPLOAD_MB": "lots"}
    done = subprocess.run([vcc, "app"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: VCC_MAX_UPLOAD_MB='lots': give the largest upload as a whole number of MB"


def test_server_settings():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"  # no watcher over the repository and its .venv
    assert config["browser"]["gatherUsageStats"] is False
