# resrepro -- make demo | make test | make bench-like targets. Each target sets itself up:
# the first call creates .venv and installs the project into it; later calls reuse it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
CORES  ?= all
export PATH := $(abspath $(BIN)):$(PATH)
# SLURM executor plugin, outside site-packages: only SLURM runs see it (tools/slurm/plugin-requirements.txt)
SLURM_PLUGIN := $(VENV)/slurm-plugin
SLURM_STAMP  := $(SLURM_PLUGIN)/.installed-stamp

.PHONY: install demo full merged report-archive degradation degradation-quick degradation-quick-warmup test lint format lock bench clean-results slurm-plugin slurm-up slurm-down test-slurm

# requirements.lock pins every package (and what they pull in) to the versions the outputs were made with.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install resrepro with its test tools

demo: $(STAMP)  ## the whole pipeline on the quick preset (CPU, minutes) -> reports/quick/report.{pdf,html}
	@start=$$(date +%s); \
	snakemake --cores $(CORES) --configfile presets/quick.yaml --printshellcmds && \
	echo "demo finished in $$(( $$(date +%s) - start )) s: reports/quick/report.pdf, reports/quick/report.html"

full: $(STAMP)  ## the full reproduction: config.yaml, the degradation study (presets/degradation.yaml), then one audit of both; needs GPUs
	snakemake --cores $(CORES)
	snakemake --cores $(CORES) --configfile presets/degradation.yaml
	snakemake --cores $(CORES) merged_claims

merged: $(STAMP)  ## one audit of the finished runs named in config.yaml's `merge` -> results/merged/claims.json
	snakemake --cores $(CORES) merged_claims

report-archive: $(STAMP)  ## the full report from the shipped archive alone (archive/<run>/): no GPU, no training; RUN=degradation for that study
	snakemake --cores $(CORES) $(if $(filter degradation,$(RUN)),--configfile presets/degradation.yaml) --config 'archive={"only": true}'
	@echo "report from the archive: reports/$(or $(RUN),paper)/report.pdf ($$(resrepro archive status $(if $(filter degradation,$(RUN)),--configfile config.yaml presets/degradation.yaml) | head -1))"

degradation-quick: $(STAMP)  ## plain vs residual, depths 20 and 56, on a real subset (CPU, ~30 min) -> reports/degradation-quick/
	@start=$$(date +%s); \
	snakemake --cores $(CORES) --configfile presets/degradation.yaml presets/degradation-quick.yaml --printshellcmds && \
	echo "degradation-quick finished in $$(( $$(date +%s) - start )) s: reports/degradation-quick/report.pdf"

degradation-quick-warmup: $(STAMP)  ## the same with He et al.'s warm-up rule (lr 0.01 until training error < 80 %) for all four nets (sensitivity run)
	snakemake --cores $(CORES) --configfile presets/degradation.yaml presets/degradation-quick.yaml presets/degradation-quick-warmup.yaml --printshellcmds

degradation: $(STAMP)  ## the full degradation study, depths 20-110 x 3 seeds, He et al.'s recipe (needs GPUs)
	snakemake --cores $(CORES) --configfile presets/degradation.yaml

lint: $(STAMP)  ## ruff check, ruff format --check, snakemake --lint and snakefmt --check
	ruff check .
	ruff format --check .
	snakemake --lint
	snakefmt --check Snakefile workflow

format: $(STAMP)  ## apply ruff's fixes and formatting, and snakefmt
	ruff check --fix .
	ruff format .
	snakefmt Snakefile workflow

lock: $(STAMP)  ## rewrite requirements.lock from .venv (after changing pyproject.toml)
	{ sed -n '1,3p' requirements.lock; $(BIN)/python -m pip freeze --exclude-editable --disable-pip-version-check; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

test: lint  ## the test suite (lint, unit tests, end-to-end pipeline on tiny data, real CIFAR-10)
	$(BIN)/python -m pytest

bench: $(STAMP)  ## training throughput: our engine vs. the DataLoader+PIL+fp32 loop (CPU here)
	resrepro bench --models resnet20,resnet18 --device $(or $(DEVICE),auto) --json results/bench/bench.json

clean-results:  ## remove results/, the rendered reports and Snakemake's records (the data cache and conda environments are kept)
	rm -rf results reports/*/
	@if [ -d .snakemake ]; then find .snakemake -mindepth 1 -maxdepth 1 ! -name conda ! -name conda-archive -exec rm -rf {} +; fi

$(SLURM_STAMP): tools/slurm/plugin-requirements.txt $(STAMP)
	rm -rf $(SLURM_PLUGIN)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --target $(SLURM_PLUGIN) -r $<
	@touch $@

slurm-plugin: $(SLURM_STAMP)  ## the SLURM executor plugin for the tests and the local cluster

slurm-up:  ## start a single-node SLURM cluster with 2 fake GPUs here (root; installs packages)
	tools/slurm/start-local-slurm.sh

slurm-down:  ## stop the daemons that slurm-up started
	tools/slurm/stop-local-slurm.sh

test-slurm: $(SLURM_STAMP)  ## only the SLURM tests (they start and stop the local cluster themselves)
	$(BIN)/python -m pytest -m slurm tests/test_slurm.py
