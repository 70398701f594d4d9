#!/usr/bin/env bash
# Runs every fuzz target for a budget: `tests/fuzz/run.sh <seconds per target> [--dev]`
# (--dev: cargo fuzz's unoptimised build, for a quick smoke run).
# libFuzzer stops at the first panic (a crash) or an input slower than 5 s (a hang) and
# exits non-zero; the failing input is kept under target/fuzz/artifacts/<target>/.
# Each target's figures go to target/reliability/fuzz.json (RELIABILITY.md reads them).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:?seconds per target}
profile=()
[ "${2:-}" = --dev ] && profile=(--dev)
export PATH="$PWD/.tools/cargo-fuzz/bin:$PATH"
# The machine's one (stable) toolchain: RUSTC_BOOTSTRAP lets it take the -Z sanitizer flags
# cargo fuzz passes, and its standard library ships the AddressSanitizer runtime.
export RUSTC_BOOTSTRAP=1
targets=(event_parsing manifest_parsing config_loading approval_token slack_signature)
declare -A seeds=(
  [event_parsing]="events events/invalid/image-push events/invalid/source-upload events/invalid/deployment-events"
  [manifest_parsing]="tests/local/manifests"
  [config_loading]="tests/fuzz/seeds/config_loading"
  [approval_token]="tests/fuzz/seeds/approval_token"
  [slack_signature]="tests/fuzz/seeds/slack_signature"
)
fuzz=(cargo fuzz)
"${fuzz[@]}" build "${profile[@]}" --fuzz-dir tests/fuzz --target-dir target/fuzz
mkdir -p target/reliability
results=()
for target in "${targets[@]}"; do
  corpus=target/fuzz/corpus/$target
  artifacts=target/fuzz/artifacts/$target/
  mkdir -p "$corpus" "$artifacts"
  log=target/fuzz/$target.log
  # shellcheck disable=SC2086 # the seed directories are a word list
  if "${fuzz[@]}" run "${profile[@]}" --fuzz-dir tests/fuzz --target-dir target/fuzz "$target" "$corpus" ${seeds[$target]} -- \
      -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$artifacts" >"$log" 2>&1; then
    status=ok
  else
    status=failed
  fi
  runs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  coverage=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
  corpus_size=$(find "$corpus" -type f | wc -l)
  echo "fuzz $target: $status, $runs inputs in ${seconds}s, coverage $coverage edges, corpus $corpus_size"
  results+=("{\"target\": \"$target\", \"status\": \"$status\", \"seconds\": $seconds, \"inputs\": $runs, \"coverage_edges\": $coverage, \"corpus\": $corpus_size}")
  if [ "$status" != ok ]; then
    tail -40 "$log" >&2
    echo "fuzz $target failed: the input is in $artifacts (replay: RUSTC_BOOTSTRAP=1 .tools/cargo-fuzz/bin/cargo-fuzz run --fuzz-dir tests/fuzz --target-dir target/fuzz $target <file>)" >&2
    failed=1
  fi
done
(IFS=,; echo "{\"seconds_per_target\": $seconds, \"targets\": [${results[*]}]}") > target/reliability/fuzz.json
exit "${failed:-0}"
