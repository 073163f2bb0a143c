# pyk8s — the two commands that matter are `make up` and `make test`; each runs setup first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the project needs on the machine (apt-installed by `setup` when missing).
APT_PACKAGES := etcd-server containerd runc containernetworking-plugins nftables nginx busybox-static docker-registry iproute2 openssl
PYTEST_ARGS ?=

.PHONY: setup up down status test check bench clean images

setup: $(STAMP)
	@missing=""; for p in $(APT_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "setup: need root to install:$$missing" >&2; exit 1; fi; \
		echo "setup: installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

up: setup images
	$(BIN)/pyk8s up

down:
	$(BIN)/pyk8s down

status:
	$(BIN)/pyk8s status

test: setup
	$(BIN)/pytest -q $(PYTEST_ARGS)

check: setup
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q $(PYTEST_ARGS)

images: setup
	$(BIN)/python -m pyk8s.kubelet.imagebuild build/images

bench: setup
	$(BIN)/python bench/storage.py
	$(BIN)/python bench/apiserver.py

clean:
	rm -rf $(VENV) build src/*.egg-info
