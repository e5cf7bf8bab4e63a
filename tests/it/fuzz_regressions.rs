//! Every input the fuzzers found a fault with (`fuzz/regressions/<target>/`) and every
//! seed (`fuzz/corpus/<target>/`), fed through the same entry point the fuzz target
//! calls (`aimock::fuzzing`): each must return, without a panic, within a bound that
//! is generous for a debug build (a quadratic blow-up on a 16 KiB input is far slower).

use std::path::Path;
use std::time::{Duration, Instant};

type Entry = fn(&[u8]);

const TARGETS: &[(&str, Entry)] = &[
    ("sse", aimock::fuzzing::sse),
    ("ndjson", aimock::fuzzing::ndjson),
    ("eventstream", aimock::fuzzing::eventstream),
    ("cassette", aimock::fuzzing::cassette),
    ("provider_request", aimock::fuzzing::provider_request),
    ("provider_collapse", aimock::fuzzing::provider_collapse),
    ("multipart", aimock::fuzzing::multipart),
    ("jsonrpc", aimock::fuzzing::jsonrpc),
    ("realtime", aimock::fuzzing::realtime),
];

fn run_dir(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind);
    let mut n = 0;
    for (name, entry) in TARGETS {
        let Ok(rd) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for f in rd.flatten() {
            let data = std::fs::read(f.path()).unwrap();
            let t = Instant::now();
            entry(&data);
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "{} took {:?}",
                f.path().display(),
                t.elapsed()
            );
            n += 1;
        }
    }
    n
}

#[test]
fn every_seed_and_every_input_a_fuzzer_found_a_fault_with_runs_through_its_target() {
    let seeds = run_dir("corpus");
    assert!(seeds > 100, "only {seeds} seeds found under fuzz/corpus");
    // Empty until a fuzzer finds something; each file there is a fixed fault.
    run_dir("regressions");
}
