# Slipway. `make demo` runs it end to end on a local AWS; `make test` runs every test.
# Tools are installed, pinned, into .tools/ (git-ignored); nothing global, nothing by hand.

SHELL := /bin/bash
.DEFAULT_GOAL := help

MOTO_VERSION := 5.2.5
CARGO_LAMBDA_VERSION := 1.9.2
VENV := .tools/venv
TOOLS_STAMP := $(VENV)/.installed-$(MOTO_VERSION)-$(CARGO_LAMBDA_VERSION)
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

FUNCTION ?= image-push
EVENT ?= events/ecr-push.json
KEY ?= deploy/web/imagedefinitions.json
FILE ?= tests/local/manifests/imagedefinitions.json

.PHONY: help tools browser test lint unit integration demo up down invoke upload clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

tools: $(TOOLS_STAMP) ## install the local AWS (moto) and cargo-lambda into .tools/
$(TOOLS_STAMP):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check \
		'moto[server]==$(MOTO_VERSION)' 'cargo-lambda==$(CARGO_LAMBDA_VERSION)'
	touch $@

# The browser test drives Debian's Chromium through ChromeDriver (apt: we are root on CI).
browser: ## install Debian's chromium and chromium-driver for the browser test, if missing
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; else \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

test: tools browser lint unit integration ## formatting, lints, unit tests, the integration and browser tests

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

unit: ## the decision core alone, built without the AWS SDK
	cargo test -p slipway --no-default-features --lib

integration: tools ## every test of the workspace, the integration tests against moto
	cargo test --workspace

demo: tools ## run Slipway end to end on the local AWS and print what happened
	tests/local/stack.sh demo

up: tools ## start the local stack (moto, cargo lambda watch, the demo's setup)
	tests/local/stack.sh up

down: ## stop the local stack
	tests/local/stack.sh down

invoke: ## replay an event: make invoke FUNCTION=image-push EVENT=events/ecr-push.json
	tests/local/stack.sh invoke $(FUNCTION) $(EVENT)

upload: ## upload a manifest and replay its S3 event: make upload KEY=deploy/web/taskdef.json FILE=tests/local/manifests/taskdef.json
	tests/local/stack.sh upload $(KEY) $(FILE)

clean: down
	rm -rf .slipway target
