//! The fuzz targets (`fuzz/src/targets.rs`) over their seed corpus and every regression input
//! (`fuzz/regressions/<target>/*`), as plain tests on stable: what a fuzzer once found stays
//! fixed, and the targets' properties are checked on every run without libFuzzer.

#[path = "../../fuzz/src/targets.rs"]
#[allow(dead_code)]
mod targets;

use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut out = Vec::new();
    for dir in [
        fuzz.join("corpus").join(target),
        fuzz.join("regressions").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // The seeds and regressions only: libFuzzer's own corpus growth is not kept.
            if dir.ends_with(target)
                && dir.parent().is_some_and(|p| p.ends_with("corpus"))
                && !name.starts_with("seed-")
            {
                continue;
            }
            out.push((name, std::fs::read(e.path()).unwrap()));
        }
    }
    out.sort();
    out
}

fn run(target: &str, f: fn(&[u8]), at_least: usize) {
    let inputs = inputs(target);
    assert!(
        inputs.len() >= at_least,
        "{target}: {} inputs",
        inputs.len()
    );
    for (name, data) in &inputs {
        let r = std::panic::catch_unwind(|| f(data));
        assert!(r.is_ok(), "{target}: input {name} panicked");
        // Truncations and byte flips of each input: cheap extra coverage.
        for cut in [1, data.len() / 2, data.len().saturating_sub(1)] {
            let r = std::panic::catch_unwind(|| f(&data[..cut.min(data.len())]));
            assert!(r.is_ok(), "{target}: {name} cut at {cut} panicked");
        }
    }
}

#[test]
fn event_decode_corpus() {
    run("event_decode", targets::event_decode, 50);
}

#[test]
fn pattern_corpus() {
    run("pattern", targets::pattern, 10);
}

#[test]
fn asl_path_corpus() {
    run("asl_path", targets::asl_path, 10);
}

#[test]
fn asl_definition_corpus() {
    run("asl_definition", targets::asl_definition, 4);
}

#[test]
fn runtime_corpus() {
    run("runtime", targets::runtime, 4);
}
