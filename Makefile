# patchwarden — `make run` and `make test` are the two entry points (README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEBS_STAMP := $(VENV)/.debs
DATA_DIR ?= $(CURDIR)/var

# Debian packages the tests use as oracles and real peers (installed here, never by hand):
# dpkg-dev/apt for version oracles and the repository check, python3-rpm for rpm's labelCompare,
# maven + a JDK for Maven's ComparableVersion, postgresql for the PostgreSQL suite, rpm (rpmbuild),
# dnf and createrepo-c for the dnf repository check against a real repository, lz4 and zstd
# (the commands) to pack apt indices the way mirrors ship them (tests/unit/agent/test_apt_lists.py).
DEBS := dpkg-dev apt python3-rpm python3-apt maven default-jdk-headless postgresql rpm dnf createrepo-c lz4 zstd

.PHONY: install debs run test bench lint clean

install: $(STAMP)

debs: $(DEBS_STAMP)

$(DEBS_STAMP): Makefile
	@mkdir -p $(VENV)
	scripts/install-debs $(DEBS)
	@touch $@

$(STAMP): pyproject.toml $(DEBS_STAMP)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[server,dev]'
	@touch $@

run: install
	scripts/run-main

test: install
	$(BIN)/pytest -n 2 tests

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: install
	$(BIN)/pytest -q tests/test_lint.py

clean:
	rm -rf $(VENV) var build *.egg-info
