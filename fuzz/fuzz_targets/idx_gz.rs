//! Arbitrary bytes written to a `.gz` file and read back with `read_idx`:
//! exercises gzip decoding (corrupt streams, small bombs) and the header
//! checks behind it. It must return an error or an array, never panic, and
//! its memory must stay within libFuzzer's `-malloc_limit_mb`.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use collapse_data::idx::read_idx;
use libfuzzer_sys::fuzz_target;

/// One temporary file per fuzzing process, overwritten at each input.
fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("collapse-fuzz-{}.idx.gz", std::process::id()))
    })
}

fuzz_target!(|bytes: &[u8]| {
    std::fs::write(path(), bytes).expect("temp file is writable");
    if let Ok(array) = read_idx(path()) {
        let elements = array.dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        assert_eq!(elements, Some(array.data.len()), "dims {:?}", array.dims);
    }
});
