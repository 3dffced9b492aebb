//! Runs the independent `asl-validator` over the trip saga's definition when
//! `TRIP_ASL_VALIDATOR=1` (it needs npm's registry or cache).

use std::process::Command;

#[test]
fn trip_saga_passes_asl_validator() {
    if std::env::var("TRIP_ASL_VALIDATOR").ok().as_deref() != Some("1") {
        eprintln!("skipped: set TRIP_ASL_VALIDATOR=1 to run asl-validator");
        return;
    }
    // Given the definition file, When asl-validator checks it
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/trip-saga.asl.json");
    let out = Command::new("npx")
        .args(["--yes", "asl-validator", "--json-path", path])
        .output()
        .expect("npx must be installed when TRIP_ASL_VALIDATOR=1");
    // Then it is valid
    assert!(
        out.status.success(),
        "asl-validator rejected the definition:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
