#![allow(clippy::unwrap_used)] // a harness failure here is the test failing
//! Replays the committed corpus through each target: every seed and every input that once
//! made a target fail (`corpus/TARGET/regressions/`, kept with the fix) must pass now. The
//! same bodies run under AFL++ (`make fuzz`); here they run as plain tests, without the afl
//! crate.

use std::path::Path;

fn replay(target: &str, body: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut n = 0;
    for sub in [dir.clone(), dir.join("regressions")] {
        let Ok(entries) = std::fs::read_dir(&sub) else {
            continue;
        };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files.into_iter().filter(|f| f.is_file()) {
            let data = std::fs::read(&f).unwrap();
            eprintln!("{target}: {}", f.display());
            body(&data);
            n += 1;
        }
    }
    assert!(n > 0, "no seeds for {target} in {}", dir.display());
}

#[test]
fn config() {
    replay("config", berth_fuzz::config);
}

#[test]
fn layer() {
    replay("layer", berth_fuzz::layer);
}

#[test]
fn registry_json() {
    replay("registry_json", berth_fuzz::registry_json);
}

#[test]
fn registry_text() {
    replay("registry_text", berth_fuzz::registry_text);
}
