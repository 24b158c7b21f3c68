# Two commands for a newcomer: `make run` opens the app on the demo scan,
# `make test` runs the whole test suite. Both create .venv when needed.
VENV   := .venv
STAMP  := $(VENV)/.installed
DEMO   := resources/demo/demo_scan.npz

.PHONY: run test demo lint setup clean-venv suite-setup suite

setup: $(STAMP)

$(STAMP): pyproject.toml packaging/setup_venv.sh
	@bash packaging/setup_venv.sh
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ptycho-studio $(DEMO)

test: $(STAMP)
	OMP_WAIT_POLICY=PASSIVE $(VENV)/bin/python -m pytest

# The headless demo: describe the demo scan, train for 3 minutes, reconstruct, score.
demo: $(STAMP)
	$(VENV)/bin/ptycho-engine inspect $(DEMO)
	$(VENV)/bin/ptycho-engine train --scan $(DEMO) --out runs/demo --preset "quick look (CPU)" --time-limit 3
	$(VENV)/bin/ptycho-engine reconstruct --model runs/demo --scan $(DEMO) --out runs/demo/reconstruction.npz
	$(VENV)/bin/ptycho-engine evaluate runs/demo/reconstruction.npz --truth $(DEMO)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean-venv:
	rm -rf $(VENV)

# The quality suite (tests/benchmarks/quality.py --suite) with pty-chi beside it, in its own
# venv: pty-chi needs torchvision, and PyPI's torchvision wheels need the CUDA build of torch
# (2.14.1 and 0.29.1 are the releases that install together here; a GPU machine may drop the
# pins). The quick subset takes about an hour on 2 cores; the table prints at the end.
suite-setup: .venv-suite/.installed

.venv-suite/.installed: pyproject.toml
	python3 -m venv .venv-suite
	.venv-suite/bin/python -m pip install --quiet --upgrade pip
	.venv-suite/bin/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1 -e ".[iterative]"
	@touch $@

suite: .venv-suite/.installed
	OMP_WAIT_POLICY=PASSIVE .venv-suite/bin/python tests/benchmarks/quality.py --suite --cases quick
