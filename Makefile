# Two commands for a newcomer: `make demo` and `make test` (README). Each makes and uses ./.venv.
# Every install step is guarded by a stamp (or the file it makes), so a second run only does the work
# whose inputs changed. Runs unattended (CI: root, no stdin): apt-get is called only for what is missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A second venv with ipykernel 6: ipykernel 7 changed how messages from threads are sent, and the
# widgets update from the job engine's threads, so notebooks and browser tests run under both.
K6 := .venv-k6
K6_STAMP := $(K6)/.installed
K6_KERNEL := seedance-k6
CHROMIUM := /usr/bin/chromium
# Named after the lock file's content, not its mtime: the package build's hook runs `npm install`,
# which rewrites package-lock.json unchanged but newer, and would make every run reinstall.
NODE_STAMP := node_modules/.ci-stamp-$(shell sha256sum package-lock.json 2>/dev/null | cut -c1-16)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get
PIP := PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/python -m pip
DEMO_NOTEBOOK := notebooks/quickstart.ipynb
# pytest arguments, e.g. `make pytest ARGS='-m browser -x'`.
ARGS ?=

export PIP_NO_INPUT := 1

.PHONY: demo test lint jstest pytest bench js chromium kernels install clean

# --- installs -------------------------------------------------------------------------------------

# The package lists its npm build as a hatch hook; `npm ci` first makes that build use the lock file.
$(NODE_STAMP):
	command -v npm >/dev/null || { $(APT) update && $(APT) install -y nodejs npm; }
	npm ci --no-audit --no-fund
	rm -f node_modules/.ci-stamp-*
	touch $@

# Without a lock file (front-end not started yet) there is nothing to install.
NODE_DEPS := $(if $(wildcard package-lock.json),$(NODE_STAMP))

$(STAMP): pyproject.toml $(NODE_DEPS)
	$(PY) -c 'import ensurepip, venv' 2>/dev/null || { $(APT) update && $(APT) install -y python3-venv; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

$(CHROMIUM):
	$(APT) update
	$(APT) install -y --no-install-recommends chromium fonts-liberation

# The kernelspec goes into .venv's prefix, so only .venv's Jupyter sees it (nothing global).
$(K6_STAMP): pyproject.toml $(STAMP)
	test -x $(K6)/bin/python || $(PY) -m venv $(K6)
	$(K6)/bin/python -m pip install -q --disable-pip-version-check 'ipykernel>=6.29,<7' -e '.[emulator]'
	$(K6)/bin/python -m ipykernel install --prefix "$(abspath $(VENV))" --name $(K6_KERNEL) \
		--display-name "Python 3 (ipykernel 6)"
	touch $@

install: $(STAMP)
kernels: $(K6_STAMP)
chromium: $(CHROMIUM)

# esbuild takes well under a second: rebuild on every test run so a stale bundle is never tested.
js: $(NODE_DEPS)
	if [ -f package.json ]; then npm run --silent build; fi

# --- commands -------------------------------------------------------------------------------------

lint: $(STAMP) $(NODE_DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	if [ -f package.json ]; then npm run --silent typecheck; fi

jstest: $(NODE_DEPS)
	if [ -f package.json ]; then npm test; fi

pytest: $(STAMP) $(K6_STAMP) $(CHROMIUM) js
	$(BIN)/pytest $(ARGS)

test: lint jstest pytest

# JupyterLab on the quickstart notebook. The key is unset on purpose, so the kernel starts the
# package's built-in emulator (a free loopback port): a demo never bills anyone.
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
# Extra options for the server, e.g. `make demo DEMO_ARGS=--ServerApp.port=9999`.
DEMO_ARGS ?=
demo: $(STAMP) js
	env -u TOAPIS_API_KEY -u SEEDANCE_BASE_URL $(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 $(ROOT_FLAG) \
		--ServerApp.root_dir=$(dir $(DEMO_NOTEBOOK)) $(DEMO_ARGS) $(DEMO_NOTEBOOK)

# Benchmarks (benchmarks/README.md): one table, numbers in benchmarks/results.json. Rows 3 and 6
# compare against curl and ffmpeg; row 7 drives Chromium.
bench: $(STAMP) $(K6_STAMP) $(CHROMIUM) js
	command -v ffmpeg >/dev/null && command -v curl >/dev/null || \
		{ $(APT) update && $(APT) install -y --no-install-recommends ffmpeg curl; }
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(K6) node_modules seedance_widgets/static dist build
