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

demo: $(STAMP)
	$(VENV)/bin/ptycho-engine inspect $(DEMO)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean-venv:
	rm -rf $(VENV)
