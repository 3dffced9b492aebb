#!/usr/bin/env bash
# Lints the synthesized CloudFormation with cfn-lint (must be on PATH). No Rust is built:
# the app is synthesized with bundling skipped. W3005 (a DependsOn that a Ref already
# implies) is ignored because CDK output always trips it; every other finding fails.
# Usage: infra/scripts/cfn-lint.sh [key=value ...]   (context, as with `cdk synth -c`)
set -euo pipefail
infra="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v cfn-lint >/dev/null || { echo "cfn-lint not on PATH (pip install cfn-lint)" >&2; exit 127; }
outdir="$(mktemp -d "${TMPDIR:-/tmp}/trip-saga-cfn-lint.XXXXXX")"
trap 'rm -rf "$outdir"' EXIT
cd "$infra"
mapfile -t templates < <(node_modules/.bin/tsx scripts/synth-unbundled.ts "$outdir" "$@")
[ "${#templates[@]}" -gt 0 ] || { echo "synthesis produced no template" >&2; exit 1; }
echo "cfn-lint $(cfn-lint --version | awk '{print $2}') on ${templates[*]}"
cfn-lint --ignore-checks W3005 -- "${templates[@]}"
echo "cfn-lint: no findings"
