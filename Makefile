# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DB := sqlite:///out/xunqin.db

.PHONY: demo test lint bench bench-scale bench-incremental bench-quality bench-queue bench-learning bench-web nightly serve web clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job on the embedded default: one night of the batch on the bundled sample into a
# SQLite database (out/xunqin.db), its stations on the stations list, then the same sample
# through `xunqin match` to a CSV.
demo: $(STAMP)
	mkdir -p out/inbox
	cp data/sample/stations.csv data/sample/reports.csv out/inbox/
	$(BIN)/xunqin nightly --inbox out/inbox --db $(DEMO_DB)
	$(BIN)/xunqin station seed --db $(DEMO_DB)
	$(BIN)/xunqin match --stations data/sample/stations.csv --reports data/sample/reports.csv --out out/candidates.csv

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m benchmarks.matcher

# xunqin match in report shards on a LocalCluster of 2 workers at M and L, beside one process at M
bench-scale: $(STAMP)
	$(BIN)/python -m benchmarks.scale --sizes M L --workers 2 $(SCALE_ARGS)

bench-incremental: $(STAMP)
	$(BIN)/python -m benchmarks.incremental --size M --work bench-out/incremental-M

# match quality: S at every seed, the perturbation suite, xunqin beside Splink (QUALITY_ARGS=--size M ...)
bench-quality: $(STAMP)
	$(BIN)/python -m benchmarks.quality $(QUALITY_ARGS)

bench-learning: $(STAMP)
	$(BIN)/python -m benchmarks.learning --size S

bench-queue: $(STAMP)
	$(BIN)/python -m benchmarks.bench_queue

bench-web: $(STAMP)
	$(BIN)/python -m benchmarks.web_latency

nightly: $(STAMP)
	$(BIN)/xunqin nightly --inbox inbox

serve: $(STAMP)
	$(BIN)/xunqin serve --inbox inbox

web: $(STAMP)
	$(BIN)/xunqin web

clean:
	rm -rf $(VENV) out bench-out
