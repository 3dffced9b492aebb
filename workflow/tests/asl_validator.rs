//! Runs the independent `asl-validator` (pinned in infra/package.json) over the trip saga's
//! definition. It needs the CDK app's npm packages, so a plain `cargo test` leaves it out
//! (ignored, with the reason); scripts/test.sh installs them and runs it with
//! `--run-ignored only`, and then a missing validator is a failure, not a pass.

use std::process::Command;

#[test]
#[ignore = "needs infra/node_modules (npm ci --prefix infra); scripts/test.sh runs it"]
fn trip_saga_passes_asl_validator() {
    // Given the definition file, When asl-validator checks it
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/trip-saga.asl.json");
    let pinned = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/node_modules/.bin/asl-validator"
    );
    assert!(
        std::path::Path::new(pinned).exists(),
        "{pinned} is missing: run `npm ci --prefix infra` first"
    );
    let out = Command::new(pinned)
        .args(["--json-path", path])
        .output()
        .expect("asl-validator runs");
    // Then it is valid
    assert!(
        out.status.success(),
        "asl-validator rejected the definition:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
