#!/usr/bin/env bash
# Builds the app the way app/Dockerfile does, since no Docker engine runs here: from a context
# holding only what app/.dockerignore lets through, with no git repository in reach, the
# release handed in as APP_VERSION/APP_GIT_SHA, and the Dockerfile's own cargo command.
# Prints the binary's path; `make app-test` runs the HTTP tests against it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
context="$root/.slipway/app-image-context"

# .dockerignore is an allow-list: `*`, then `!path` for each thing the build needs.
ignore="$root/app/.dockerignore"
if [[ "$(grep -v '^\s*\(#\|$\)' "$ignore" | head -1)" != "*" ]]; then
  echo "app/.dockerignore must start with '*' and allow paths with '!': this script mirrors that form" >&2
  exit 1
fi
rm -rf "$context" && mkdir -p "$context"
while read -r allowed; do
  cp -R "$root/app/${allowed%/}" "$context/"
done < <(sed -n 's/^!\s*//p' "$ignore")

# The Dockerfile's RUN line, with the build arguments CI passes.
dockerfile_build="$(grep -o 'cargo build [^&\\]*' "$root/app/Dockerfile" | head -1 | sed 's/ *$//')"
[[ "$dockerfile_build" == "cargo build --release --locked" ]] \
  || { echo "app/Dockerfile builds with '$dockerfile_build'; update this script to match" >&2; exit 1; }
(
  cd "$context"
  export GIT_CEILING_DIRECTORIES="$(dirname "$context")" # no .git in a Docker context
  export APP_VERSION="$(git -C "$root" describe --tags --always --dirty)"
  export APP_GIT_SHA="$(git -C "$root" rev-parse HEAD)"
  CARGO_TARGET_DIR="$root/app/target/image" $dockerfile_build --quiet >&2
)
echo "$root/app/target/image/release/app"
