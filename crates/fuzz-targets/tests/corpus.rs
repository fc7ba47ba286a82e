//! Replays every committed fuzz corpus (`fuzz/corpus/<target>/`) and every saved crash reproducer
//! (`fuzz/regressions/<target>/`) through its target on stable: what the fuzzer found once stays fixed.

use std::path::PathBuf;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

#[test]
fn every_target_has_a_corpus_and_every_input_passes() {
    let mut total = 0;
    for (name, target) in fuzz_targets::TARGETS {
        let mut seen = 0;
        for dir in ["corpus", "regressions"] {
            let path = fuzz_dir().join(dir).join(name);
            let Ok(entries) = std::fs::read_dir(&path) else {
                continue;
            };
            for entry in entries {
                let file = entry.expect("a corpus entry").path();
                let data = std::fs::read(&file).expect("a readable corpus file");
                let result = std::panic::catch_unwind(|| target(&data));
                assert!(result.is_ok(), "{name}: {} panicked", file.display());
                seen += 1;
            }
        }
        assert!(
            seen > 0,
            "the {name} target has no committed corpus under fuzz/corpus/{name}"
        );
        total += seen;
    }
    eprintln!("replayed {total} fuzz inputs");
}
