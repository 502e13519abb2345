# patchwarden — `make run` and `make test` are the two entry points (README).
#   make run   installs what the console and the agent need into .venv (no root, no Debian
#              packages) and starts them (scripts/run-main);
#   make test  also installs the test tools: the [dev] extra into .venv and, as root, the
#              Debian packages the tests use as oracles and real peers (DEBS).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
DEBS_STAMP := $(VENV)/.debs

# Debian packages the tests use as oracles and real peers (installed here, never by hand):
# dpkg-dev/apt for version oracles and the repository check, python3-rpm for rpm's labelCompare,
# maven + a JDK for Maven's ComparableVersion, postgresql for the PostgreSQL suite, rpm (rpmbuild),
# dnf and createrepo-c for the dnf repository check against a real repository, lz4 and zstd
# (the commands) to pack apt indices the way mirrors ship them (tests/unit/agent/test_apt_lists.py),
# debootstrap for tests in real Debian chroots, needrestart (cross-checks restart needs),
# liblog4j2-java (a JAR a distro package owns) and redis-tools (a real binary to fingerprint)
# for the process tests, chromium for the web console's browser tests (tests/browser, driven by
# Playwright). `make run` installs none of them: each one the
# agent scans adds its own findings to this machine's report (a JDK and PostgreSQL alone add
# hundreds).
DEBS := dpkg-dev apt python3-rpm python3-apt maven default-jdk-headless postgresql rpm dnf createrepo-c lz4 zstd debootstrap needrestart liblog4j2-java redis-tools chromium

.PHONY: install install-test debs run test bench lint clean

install: $(RUN_STAMP)

install-test: $(TEST_STAMP)

debs: $(DEBS_STAMP)

$(DEBS_STAMP): Makefile
	@mkdir -p $(VENV)
	scripts/install-debs $(DEBS)
	@touch $@

# The product needs no Debian package beyond a Python >= 3.9 whose `venv` module works (on
# Debian and Ubuntu that is the python3-venv package, part of most installs).
$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { echo "could not create $(VENV) with $(PYTHON) -m venv;" \
	  "on Debian/Ubuntu install python3-venv" >&2; rm -rf $(VENV); exit 1; }
	$(BIN)/pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[server]'
	@touch $@

$(TEST_STAMP): pyproject.toml $(DEBS_STAMP) | $(BIN)/python
	$(BIN)/pip install -q -e '.[server,dev]'
	@touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	scripts/run-main

# Next to a running `make run`, as root: a Debian 12 chroot host enrolled in its console, with a
# pending security update to fix (scripts/demo-host; Ctrl-C stops it, demo-host-clean deletes it).
.PHONY: demo-host demo-host-clean
demo-host: $(RUN_STAMP)
	scripts/demo-host

demo-host-clean:
	scripts/demo-host --clean

test: $(TEST_STAMP)
	$(BIN)/pytest -n 2 tests

bench: $(TEST_STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(TEST_STAMP)
	$(BIN)/pytest -q tests/test_lint.py

clean:
	rm -rf $(VENV) var build dist *.egg-info
