//! `collapse fetch`: download a catalogued dataset, verify it, write it atomically.
//!
//! Each file is tried on every mirror in turn; a download counts only when its
//! decompressed contents have the catalogue's SHA-256. A file already present
//! with the right contents is not downloaded again.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::read::GzDecoder;

use crate::catalogue::{DatasetSpec, FileSpec, sha256_hex};

/// Largest body accepted from a mirror (the biggest file, Fashion-MNIST's
/// training images, is about 26 MB compressed).
const MAX_BODY: u64 = 256 * 1024 * 1024;

/// What happened to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The file was already there with the right checksum.
    AlreadyPresent(PathBuf),
    /// The file was downloaded from this URL and verified.
    Downloaded {
        /// Where it was written.
        path: PathBuf,
        /// Where it came from.
        url: String,
    },
}

/// Why `fetch` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The destination could not be created or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Every mirror failed for one file.
    #[error("could not download {file} from any mirror:{}", attempts.iter().map(|(url, why)| format!(" {url}: {why};")).collect::<String>())]
    AllMirrorsFailed {
        /// The file name.
        file: &'static str,
        /// One `(url, reason)` per mirror tried.
        attempts: Vec<(String, String)>,
    },
}

/// SHA-256 of the decompressed contents of gzip bytes, or why they are not gzip.
fn content_sha256(gz: &[u8]) -> Result<String, String> {
    let mut raw = Vec::new();
    GzDecoder::new(gz)
        .read_to_end(&mut raw)
        .map_err(|e| format!("not a valid gzip file ({e})"))?;
    Ok(sha256_hex(&raw))
}

fn present_and_valid(path: &Path, file: &FileSpec) -> bool {
    std::fs::read(path)
        .ok()
        .and_then(|b| content_sha256(&b).ok())
        .is_some_and(|sum| sum == file.sha256)
}

fn download(agent: &ureq::Agent, url: &str, file: &FileSpec) -> Result<Vec<u8>, String> {
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    let sum = content_sha256(&bytes)?;
    if sum != file.sha256 {
        return Err(format!(
            "checksum mismatch: contents have SHA-256 {sum}, expected {}",
            file.sha256
        ));
    }
    Ok(bytes)
}

/// Downloads `spec`'s four files into `dest` from `mirrors` (base URLs ending in `/`).
///
/// `log` receives one line per file. Returns what happened to each file.
pub fn fetch_dataset(
    spec: &DatasetSpec,
    dest: &Path,
    mirrors: &[String],
    log: &mut dyn FnMut(&str),
) -> Result<Vec<FetchOutcome>, FetchError> {
    std::fs::create_dir_all(dest).map_err(|source| FetchError::Io {
        path: dest.to_path_buf(),
        source,
    })?;
    let config = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_global(Some(Duration::from_secs(600)))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let mut outcomes = Vec::with_capacity(spec.files.len());
    for file in &spec.files {
        let path = dest.join(file.name);
        if present_and_valid(&path, file) {
            log(&format!("{}: present, checksum ok", path.display()));
            outcomes.push(FetchOutcome::AlreadyPresent(path));
            continue;
        }
        let mut attempts = Vec::new();
        let mut fetched = None;
        for mirror in mirrors {
            let url = format!("{mirror}{}", file.name);
            match download(&agent, &url, file) {
                Ok(bytes) => {
                    fetched = Some((url, bytes));
                    break;
                }
                Err(why) => {
                    log(&format!("{url}: {why}; trying the next mirror"));
                    attempts.push((url, why));
                }
            }
        }
        let Some((url, bytes)) = fetched else {
            return Err(FetchError::AllMirrorsFailed {
                file: file.name,
                attempts,
            });
        };
        collapse_records::atomic::write(&path, &bytes).map_err(|source| FetchError::Io {
            path: path.clone(),
            source,
        })?;
        log(&format!(
            "{}: downloaded from {url}, checksum ok",
            path.display()
        ));
        outcomes.push(FetchOutcome::Downloaded { path, url });
    }
    Ok(outcomes)
}

/// The default mirrors of `spec` as owned strings.
pub fn default_mirrors(spec: &DatasetSpec) -> Vec<String> {
    spec.mirrors.iter().map(|m| m.to_string()).collect()
}
