#!/usr/bin/env bash
# A real `cdk synth`: builds the four Rust Lambdas with `cargo lambda build --profile lambda`
# (cargo-lambda-cdk), so it takes many minutes on 2 cores. Needs `cargo lambda` and zig on
# PATH (`pip install cargo-lambda ziglang`); without them cargo-lambda-cdk falls back to
# Docker. Defaults to x86_64 because the aarch64 Rust target may not be installable in CI;
# pass `-c arch=arm64` (or any other cdk synth option) to override.
# Usage: infra/scripts/synth-bundled.sh [cdk synth options ...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
if ! cargo lambda --version >/dev/null 2>&1; then
  echo "cargo lambda is not on PATH: pip install cargo-lambda ziglang" >&2
  exit 127
fi
arch=(-c arch=x86_64)
for a in "$@"; do case "$a" in arch=*|--context=arch=*) arch=() ;; esac; done
exec infra/node_modules/.bin/cdk synth --quiet "${arch[@]}" "$@"
