# steer: `make demo` runs the main job, `make test` the test suite.
# Each creates .venv and installs what it needs on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH := torch==2.13.0

.PHONY: demo test test-fast lint bench clean-runs

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: the CPU build (an unpinned torch pulls a multi-GB CUDA build)
	$(BIN)/pip install -q "$(TORCH)"
	# the versions make test last passed with (constraints.txt): a new release cannot break main unseen
	$(BIN)/pip install -q -c constraints.txt -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/steer compare experiments/demo.toml --policies bo,feature,greedy,round-robin,random --seeds 3 --json runs/demo-compare.json
	@echo
	@echo "Every decision of every run is in MLflow. Browse them with:  $(BIN)/steer ui"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup --durations=15

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup -m "not slow and not browser"

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_night.py

clean-runs:
	rm -rf runs
