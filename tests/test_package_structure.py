"""The package's own conventions: layers, thin pages, one place for Streamlit glue, small modules, safe caches."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "vcc_core"
APP_FILES = [ROOT / "app.py", ROOT / "ui.py", *sorted((ROOT / "app_pages").glob("*.py"))]
PAGES = sorted((ROOT / "app_pages").glob("*.py"))

LAYERS = [
    {"keys", "device", "progress", "compiled"},
    {"__init__"},
    {"cache"},
    {"data"},
    {"de", "metrics", "plots"},
    {"models"},
    {"evaluation"},
    {"analyses", "scale"},
    {"commands"},
    {"__main__"},
]
"""``vcc_core``'s top-level modules and subpackages, lowest first: each imports only from lower layers (and its own
package). A new subpackage must be placed here."""
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}
MAX_MODULE_LINES = 400
MAX_PAGE_LINES = 120


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names if node.module == "vcc_core"}
    return names


def _unit(path: Path) -> str:
    """The top-level module or subpackage of ``vcc_core`` that ``path`` belongs to."""
    return path.relative_to(CORE).parts[0].removesuffix(".py")


def _python_files() -> list[Path]:
    return [*CORE.rglob("*.py"), *APP_FILES, *(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").glob("*.py")]


def test_core_never_imports_streamlit_in_source():
    offenders = [
        p.name for p in CORE.rglob("*.py") if any(m.split(".")[0] == "streamlit" for m in _imported_modules(p))
    ]
    assert offenders == []


def test_core_import_does_not_load_streamlit():
    code = "import sys, vcc_core, vcc_core.data.dataset, vcc_core.plots.dataset; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_part_of_the_core_has_a_layer():
    units = {_unit(p) for p in CORE.rglob("*.py")}
    assert units - set(LEVEL) == set()


def test_imports_go_down_the_layers():
    upward = []
    for path in CORE.rglob("*.py"):
        unit = _unit(path)
        for module in _imported_modules(path):
            parts = module.split(".")
            if parts[0] == "vcc_core" and len(parts) > 1 and parts[1] != unit and LEVEL[parts[1]] >= LEVEL[unit]:
                upward.append(f"{path.relative_to(ROOT)} imports {module}")
    assert upward == []


def test_no_module_imports_a_private_name_of_another():
    offenders = []
    for path in _python_files():
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("vcc_core", "tests"):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                offenders += [f"{path.relative_to(ROOT)}: {node.module}.{name}" for name in private]
    assert offenders == []


def test_pages_are_thin():
    long = {p.name: n for p in PAGES if (n := len(p.read_text().splitlines())) > MAX_PAGE_LINES}
    assert long == {}


def test_streamlit_caches_live_only_in_the_glue_module():
    offenders = [
        str(p.relative_to(ROOT))
        for p in [*CORE.rglob("*.py"), *APP_FILES]
        if p.name != "ui.py" and any(f"st.cache_{kind}" in p.read_text() for kind in ("resource", "data"))
    ]
    assert offenders == []


@pytest.mark.parametrize("path", [*CORE.rglob("*.py"), ROOT / "ui.py"], ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_are_small(path):
    assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES


def test_no_pickle_loading_in_core():
    text = "\n".join(p.read_text() for p in CORE.rglob("*.py"))
    assert "pickle.load" not in text
    assert "joblib.load" not in text
