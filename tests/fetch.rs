//! `collapse fetch` against a small HTTP server on 127.0.0.1 started by the test:
//! a good mirror, a corrupt one, one that answers 404, and one that is down.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;

use crate::util::{TempDir, assert_fails, assert_ok, collapse, mnist_source};

const FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// Serves `files` (path → body) at `http://127.0.0.1:PORT/`, answering 404 for
/// anything else, for at most `requests` requests; returns the base URL.
fn serve(files: HashMap<String, Vec<u8>>, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let (status, body) = match files.get(path) {
                Some(b) => ("200 OK", b.as_slice()),
                None => ("404 Not Found", &b"not here"[..]),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    url
}

fn real_files() -> HashMap<String, Vec<u8>> {
    let dir = mnist_source();
    FILES
        .iter()
        .map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap()))
        .collect()
}

/// A URL where nothing listens.
fn down() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    url
}

fn fetch(tmp: &TempDir, mirrors: &[&str]) -> std::process::Output {
    let dest = tmp.join("mnist");
    let mut args = vec!["fetch", "mnist", "--dir", dest.to_str().unwrap()];
    for m in mirrors {
        args.extend(["--mirror", m]);
    }
    collapse(&tmp.0, &args)
}

#[test]
fn downloads_verifies_and_skips_what_is_present() {
    let tmp = TempDir::new("fetch-good");
    let good = serve(real_files(), 8);
    let stdout = assert_ok(&fetch(&tmp, &[&good]));
    assert!(stdout.contains("mnist ready"), "{stdout}");
    for f in FILES {
        assert_eq!(
            std::fs::read(tmp.join("mnist").join(f)).unwrap(),
            std::fs::read(mnist_source().join(f)).unwrap()
        );
    }
    // Everything present: nothing is downloaded (the server is down now).
    let stdout = assert_ok(&fetch(&tmp, &[&down()]));
    assert_eq!(
        stdout.matches("present, checksum ok").count(),
        4,
        "{stdout}"
    );
}

#[test]
fn corrupt_and_missing_mirrors_fall_through_to_a_good_one() {
    let tmp = TempDir::new("fetch-fallback");
    let mut corrupt = real_files();
    for body in corrupt.values_mut() {
        let n = body.len();
        body[n / 2] ^= 0xFF;
    }
    let corrupt = serve(corrupt, 8);
    let missing = serve(HashMap::new(), 8);
    let good = serve(real_files(), 8);
    let dead = down();
    let out = fetch(&tmp, &[&dead, &missing, &corrupt, &good]);
    let stdout = assert_ok(&out);
    assert!(stdout.contains("404"), "{stdout}");
    assert!(stdout.contains("mnist ready"), "{stdout}");
    assert!(
        stdout.contains("checksum mismatch") || stdout.contains("not a valid gzip"),
        "{stdout}"
    );
}

#[test]
fn every_mirror_failing_is_an_error_and_writes_nothing() {
    let tmp = TempDir::new("fetch-bad");
    let mut corrupt = real_files();
    let body = corrupt.get_mut(FILES[0]).unwrap();
    body.truncate(body.len() / 2);
    let corrupt = serve(corrupt, 8);
    let out = fetch(&tmp, &[&corrupt, &down()]);
    assert_fails(&out, 1, &["could not download train-images-idx3-ubyte.gz"]);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.join("mnist")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
