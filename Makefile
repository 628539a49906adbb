# Two commands: `make app` (install, then open the dashboard) and `make test` (install, then run every test).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501
# Largest upload in MB, for Streamlit's widget and for vcc_core.data.uploads.check_upload_size alike.
export VCC_MAX_UPLOAD_MB ?= 2048

.PHONY: app test lint install clean

# The project itself goes in editable: `python -m vcc_core` and the `vcc` command work from any folder.
$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools>=64"
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# numba's cache keys a kernel by its code, not by how compiled.py builds it (nogil, parallel): when that changes,
# the kernels cached before are dropped, to be compiled again.
$(VENV)/.kernels: $(VENV)/.installed vcc_core/compiled.py
	find vcc_core -name '*.nbi' -delete -o -name '*.nbc' -delete
	touch $@

# Compiled kernels are cached on disk; compile them once here rather than on the first call in the app.
$(VENV)/.warm: $(VENV)/.installed $(VENV)/.kernels vcc_core/compiled.py vcc_core/de/kernel.py vcc_core/data/normalize.py vcc_core/data/pseudobulk.py \
		vcc_core/commands/warm_up.py vcc_core/data/simulate.py vcc_core/data/nbinom.py vcc_core/data/dataset.py
	$(PY) -m vcc_core warm-up
	touch $@

install: $(VENV)/.warm

app: install
	$(VENV)/bin/vcc app --port $(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
