# Two commands for a newcomer: `make run` opens the app on the demo scan,
# `make test` runs the whole test suite. Both create .venv when needed.
VENV   := .venv
STAMP  := $(VENV)/.installed
DEMO   := resources/demo/demo_scan.npz

.PHONY: run test demo lint setup clean-venv

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
