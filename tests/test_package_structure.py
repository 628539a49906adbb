"""The package's own conventions."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_streamlit_in_source():
    offenders = [p.name for p in (ROOT / "vcc_core").rglob("*.py") if "streamlit" in _imports(p)]
    assert offenders == []


def test_core_import_does_not_load_streamlit():
    code = "import sys, vcc_core, vcc_core.data.dataset, vcc_core.plots.dataset; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pages_are_thin():
    long = {p.name: n for p in (ROOT / "app_pages").glob("*.py") if (n := len(p.read_text().splitlines())) > 150}
    assert long == {}


def test_no_pickle_loading_in_core():
    text = "\n".join(p.read_text() for p in (ROOT / "vcc_core").rglob("*.py"))
    assert "pickle.load" not in text
    assert "joblib.load" not in text
