# dnsdr: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup system-deps demo test lint typecheck unit integration bench clean

setup: system-deps $(STAMP)

system-deps:
	@scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

lint: setup
	$(BIN)/ruff check dnsdr tests
	$(BIN)/lint-imports
	$(BIN)/python scripts/check-module-size.py
	cd playbooks && ../$(BIN)/ansible-lint
	for p in playbooks/[a-hj-z]*.yml playbooks/install.yml; do $(BIN)/ansible-playbook --syntax-check -i playbooks/inventory.example.yml $$p >/dev/null || exit 1; done

typecheck: setup
	$(BIN)/mypy --strict dnsdr

unit: setup
	$(BIN)/pytest -q -p no:cacheprovider --timeout=600 tests/unit

# Integration tests run against the real lab (MariaDB, RabbitMQ, Designate, PowerDNS, BIND on loopback).
integration: setup
	$(BIN)/pytest -q -p no:cacheprovider --timeout=1800 --durations=30 tests/integration

test: setup lint typecheck unit integration

demo: setup
	$(BIN)/python -m dnsdr.lab.demo

bench: setup
	$(BIN)/python tests/bench/serial_sweep.py
	$(BIN)/python tests/bench/masters_rewrite.py
	$(BIN)/python tests/bench/failover.py

clean:
	-$(BIN)/dnsdr lab down 2>/dev/null
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
