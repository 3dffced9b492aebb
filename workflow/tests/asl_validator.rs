//! Runs the independent `asl-validator` over the trip saga's definition when
//! `TRIP_ASL_VALIDATOR=1` (the README's test command sets it and installs the pinned
//! asl-validator with the CDK app's npm packages).

use std::process::Command;

#[test]
fn trip_saga_passes_asl_validator() {
    if std::env::var("TRIP_ASL_VALIDATOR").ok().as_deref() != Some("1") {
        eprintln!("skipped: set TRIP_ASL_VALIDATOR=1 to run asl-validator");
        return;
    }
    // Given the definition file, When asl-validator checks it
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/trip-saga.asl.json");
    let pinned = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/node_modules/.bin/asl-validator"
    );
    let out = if std::path::Path::new(pinned).exists() {
        Command::new(pinned).args(["--json-path", path]).output()
    } else {
        Command::new("npx")
            .args(["--yes", "asl-validator@4.0.0", "--json-path", path])
            .output()
    }
    .expect(
        "asl-validator (npm ci --prefix infra) or npx must be available when TRIP_ASL_VALIDATOR=1",
    );
    // Then it is valid
    assert!(
        out.status.success(),
        "asl-validator rejected the definition:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
