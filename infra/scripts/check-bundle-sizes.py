#!/usr/bin/env python3
"""Fails if a Lambda bundle of the last `cdk synth` zips to 4 MB or more (issue #9's target).

Reads cdk.out/<stack>.assets.json for the zip assets the template uses, zips each asset
directory the way CDK uploads it (deflate), and prints one line per function. Run it after
infra/scripts/synth-bundled.sh (CI does).

Usage: infra/scripts/check-bundle-sizes.py [cdk.out] [--limit BYTES]
"""

import io
import json
import os
import sys
import zipfile

LIMIT = 4_000_000  # bytes: "under 4 MB"


def zipped_size(directory: str) -> int:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for root, _, files in os.walk(directory):
            for name in sorted(files):
                path = os.path.join(root, name)
                z.write(path, os.path.relpath(path, directory))
    return buf.tell()


def main() -> int:
    args = sys.argv[1:]
    limit = LIMIT
    if "--limit" in args:
        i = args.index("--limit")
        limit = int(args[i + 1])
        del args[i : i + 2]
    out = args[0] if args else "cdk.out"
    manifests = [f for f in os.listdir(out) if f.endswith(".assets.json")]
    if not manifests:
        print(f"no *.assets.json in {out}: run a bundled cdk synth first", file=sys.stderr)
        return 2
    failures = 0
    checked = 0
    for manifest in manifests:
        stack = manifest[: -len(".assets.json")]
        with open(os.path.join(out, manifest)) as f:
            assets = json.load(f)["files"]
        with open(os.path.join(out, f"{stack}.template.json")) as f:
            template = json.load(f)
        # Which function uses which asset (Code.S3Key is "<asset hash>.zip").
        users = {}
        for logical_id, res in template.get("Resources", {}).items():
            if res.get("Type") != "AWS::Lambda::Function":
                continue
            key = res.get("Properties", {}).get("Code", {}).get("S3Key", "")
            users.setdefault(key.removesuffix(".zip"), []).append(logical_id)
        for asset_hash, asset in assets.items():
            source = asset["source"]
            if source.get("packaging") != "zip" or asset_hash not in users:
                continue
            directory = os.path.join(out, source["path"])
            if not os.path.isfile(os.path.join(directory, "bootstrap")):
                continue
            size = zipped_size(directory)
            checked += 1
            verdict = "ok" if size < limit else "TOO LARGE"
            failures += size >= limit
            names = ", ".join(users[asset_hash])
            print(f"{names}: {size / 1_000_000:.2f} MB zipped ({size / 1048576:.2f} MiB) {verdict}")
    if checked == 0:
        print(f"no bundled Rust Lambda in {out} (was bundling skipped?)", file=sys.stderr)
        return 2
    if failures:
        print(f"{failures} bundle(s) at or over {limit / 1_000_000:.1f} MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
