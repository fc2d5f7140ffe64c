//! What the tests' Python tools share: the interpreter `make test` installs them for (`target/test-tools`,
//! from `crates/testing/smtp/tools.txt`), and the way they hand over what they received: one JSON file each,
//! numbered in the order received, written whole (renamed into place).

use std::path::{Path, PathBuf};

/// The Python the test tools are installed in (`EC_TEST_PYTHON` overrides it). A missing one is a loud
/// failure, never a skip.
pub fn interpreter() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("EC_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../../target/test-tools/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: `make test` installs the test tools there (crates/testing/smtp/tools.txt)",
        python.display()
    );
    python
}

/// The script `relative` to this crate.
pub fn script(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Every `<n>.json` in `directory`, read as `T`, in the order of `n`.
pub fn kept<T: serde::de::DeserializeOwned>(directory: &Path) -> Vec<T> {
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(directory)
        .map(|entries| {
            entries
                .filter_map(|entry| {
                    let path = entry.ok()?.path();
                    let n = path.file_name()?.to_str()?.strip_suffix(".json")?.parse().ok()?;
                    Some((n, path))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .map(|(_, path)| {
            let kept = std::fs::read_to_string(&path).expect("the tool wrote the file");
            serde_json::from_str(&kept).expect("the tool writes what the test reads")
        })
        .collect()
}
