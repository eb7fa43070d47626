//! Reading and writing IDX files, the format of MNIST and Fashion-MNIST.
//!
//! An IDX file is big-endian: two zero bytes, a type code, the number of
//! dimensions, one `u32` per dimension, then the payload in row-major order.
//! Unsigned bytes (`0x08`, the datasets' own type) and `f32` (`0x0D`, used for
//! generated training sets of grey values) are supported. Files whose name ends
//! in `.gz` are read and written gzip-compressed.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

/// IDX type code for unsigned bytes.
pub const TYPE_U8: u8 = 0x08;
/// IDX type code for 32-bit IEEE floats.
pub const TYPE_F32: u8 = 0x0D;

/// The payload of an IDX file.
#[derive(Clone, Debug, PartialEq)]
pub enum IdxData {
    /// Type code `0x08`.
    U8(Vec<u8>),
    /// Type code `0x0D`.
    F32(Vec<f32>),
}

impl IdxData {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            IdxData::U8(v) => v.len(),
            IdxData::F32(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The IDX type code of this payload.
    pub fn type_code(&self) -> u8 {
        match self {
            IdxData::U8(_) => TYPE_U8,
            IdxData::F32(_) => TYPE_F32,
        }
    }

    /// The values as `f32` in `[0, 1]` for bytes (divided by 255), as stored for floats.
    pub fn to_unit_f32(&self) -> Vec<f32> {
        match self {
            IdxData::U8(v) => unit_f32(v),
            IdxData::F32(v) => v.clone(),
        }
    }
}

/// Grey levels 0–255 as `f32` in `[0, 1]`.
pub fn unit_f32(bytes: &[u8]) -> Vec<f32> {
    bytes.iter().map(|&b| f32::from(b) / 255.0).collect()
}

/// An n-dimensional array read from or written to an IDX file.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// Dimensions, outermost first (`[count, rows, cols]` for images).
    pub dims: Vec<usize>,
    /// Row-major payload; its length is the product of `dims`.
    pub data: IdxData,
}

/// An error reading or writing an IDX file, with the file's path.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct IdxError {
    /// The file at fault.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub kind: IdxErrorKind,
}

/// What went wrong with an IDX file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdxErrorKind {
    /// The file could not be opened, read, decompressed or written.
    #[error("{0}")]
    Io(#[source] io::Error),
    /// The first two bytes are not zero, so this is not an IDX file.
    #[error(
        "not an IDX file: magic number {found:#010x}, expected 0x0000TTDD (two zero bytes, type, dimensions)"
    )]
    BadMagic {
        /// The first four bytes as a big-endian number.
        found: u32,
    },
    /// The type code is not one of IDX's, or one this reader does not handle.
    #[error(
        "IDX type code {code:#04x} is not supported, expected 0x08 (unsigned byte) or 0x0d (float32)"
    )]
    UnsupportedType {
        /// The code found.
        code: u8,
    },
    /// The header declares more data than the file holds.
    #[error("truncated: the header declares {expected} bytes, the file has {found}")]
    Truncated {
        /// Bytes the header promises (header included).
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The file holds bytes after the declared payload.
    #[error("{} trailing bytes: the header declares {expected} bytes, the file has {found}", found - expected)]
    TrailingBytes {
        /// Bytes the header promises (header included).
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The array given to the writer is inconsistent (payload length is not the product of dims).
    #[error("cannot write: dimensions give {expected} elements, the payload has {found}")]
    Inconsistent {
        /// Product of the dimensions.
        expected: usize,
        /// Payload length.
        found: usize,
    },
}

fn is_gz(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// Reads the whole file, decompressing it when its name ends in `.gz`.
pub(crate) fn read_bytes(path: &Path) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let mut bytes = Vec::new();
    if is_gz(path) {
        GzDecoder::new(io::BufReader::new(file)).read_to_end(&mut bytes)?;
    } else {
        io::BufReader::new(file).read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

/// Reads an IDX file (raw, or gzip-compressed when its name ends in `.gz`).
pub fn read_idx(path: &Path) -> Result<IdxArray, IdxError> {
    let err = |kind| IdxError {
        path: path.to_path_buf(),
        kind,
    };
    let bytes = read_bytes(path).map_err(|e| err(IdxErrorKind::Io(e)))?;
    parse_idx(&bytes).map_err(err)
}

/// Parses IDX bytes already in memory.
pub fn parse_idx(bytes: &[u8]) -> Result<IdxArray, IdxErrorKind> {
    let found = bytes.len() as u64;
    if bytes.len() < 4 {
        return Err(IdxErrorKind::Truncated { expected: 4, found });
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(IdxErrorKind::BadMagic { found: magic });
    }
    let code = bytes[2];
    let width: u64 = match code {
        TYPE_U8 => 1,
        TYPE_F32 => 4,
        _ => return Err(IdxErrorKind::UnsupportedType { code }),
    };
    let ndims = usize::from(bytes[3]);
    let header = 4 + 4 * ndims as u64;
    if found < header {
        return Err(IdxErrorKind::Truncated {
            expected: header,
            found,
        });
    }
    let dims: Vec<usize> = bytes[4..header as usize]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    // Checked: a lying header may claim more than u64 can count.
    let expected = dims
        .iter()
        .try_fold(width, |acc, &d| acc.checked_mul(d as u64))
        .and_then(|payload| payload.checked_add(header))
        .unwrap_or(u64::MAX);
    if found < expected {
        return Err(IdxErrorKind::Truncated { expected, found });
    }
    if found > expected {
        return Err(IdxErrorKind::TrailingBytes { expected, found });
    }
    let payload = &bytes[header as usize..];
    let data = match code {
        TYPE_U8 => IdxData::U8(payload.to_vec()),
        _ => IdxData::F32(
            payload
                .chunks_exact(4)
                .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
    };
    Ok(IdxArray { dims, data })
}

/// Encodes an array as IDX bytes (uncompressed).
pub fn encode_idx(array: &IdxArray) -> Result<Vec<u8>, IdxErrorKind> {
    let expected: usize = array.dims.iter().product();
    if expected != array.data.len() || array.dims.len() > 255 {
        return Err(IdxErrorKind::Inconsistent {
            expected,
            found: array.data.len(),
        });
    }
    let mut out = Vec::with_capacity(4 + 4 * array.dims.len() + array.data.len() * 4);
    out.extend_from_slice(&[0, 0, array.data.type_code(), array.dims.len() as u8]);
    for &d in &array.dims {
        let d = u32::try_from(d).map_err(|_| IdxErrorKind::Inconsistent {
            expected,
            found: array.data.len(),
        })?;
        out.extend_from_slice(&d.to_be_bytes());
    }
    match &array.data {
        IdxData::U8(v) => out.extend_from_slice(v),
        IdxData::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
    }
    Ok(out)
}

/// Writes an IDX file atomically, gzip-compressed (fast level) when the name ends in `.gz`.
pub fn write_idx(path: &Path, array: &IdxArray) -> Result<(), IdxError> {
    let err = |kind| IdxError {
        path: path.to_path_buf(),
        kind,
    };
    let bytes = encode_idx(array).map_err(err)?;
    let gz = is_gz(path);
    collapse_records::atomic::write_with(path, |w| {
        if gz {
            let mut enc = GzEncoder::new(w, Compression::fast());
            enc.write_all(&bytes)?;
            enc.finish()?;
            Ok(())
        } else {
            w.write_all(&bytes)
        }
    })
    .map_err(|e| err(IdxErrorKind::Io(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(code: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, code, dims.len() as u8];
        dims.iter()
            .for_each(|d| b.extend_from_slice(&d.to_be_bytes()));
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn round_trips_u8_and_f32_raw_and_gz() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let arrays = [
            IdxArray {
                dims: vec![2, 2, 3],
                data: IdxData::U8((0..12).collect()),
            },
            IdxArray {
                dims: vec![3, 2],
                data: IdxData::F32(vec![0.0, 0.25, -1.5, 1e-7, f32::MAX, 0.5]),
            },
        ];
        for (i, a) in arrays.iter().enumerate() {
            for name in [format!("a{i}.idx"), format!("a{i}.idx.gz")] {
                let path = dir.join(name);
                write_idx(&path, a).unwrap();
                assert_eq!(&read_idx(&path).unwrap(), a);
            }
        }
    }

    #[test]
    fn rejects_each_malformed_header() {
        assert!(matches!(
            parse_idx(&[1, 0, 8, 1, 0, 0, 0, 0]),
            Err(IdxErrorKind::BadMagic { .. })
        ));
        assert!(matches!(
            parse_idx(&bytes_of(0x0B, &[1], &[0, 0])),
            Err(IdxErrorKind::UnsupportedType { code: 0x0B })
        ));
        assert!(matches!(
            parse_idx(&bytes_of(TYPE_U8, &[4], &[1, 2, 3])),
            Err(IdxErrorKind::Truncated {
                expected: 12,
                found: 11
            })
        ));
        assert!(matches!(
            parse_idx(&bytes_of(TYPE_U8, &[2], &[1, 2, 3])),
            Err(IdxErrorKind::TrailingBytes {
                expected: 10,
                found: 11
            })
        ));
        assert!(matches!(
            parse_idx(&[0, 0, 8, 3, 0]),
            Err(IdxErrorKind::Truncated { expected: 16, .. })
        ));
    }

    #[test]
    fn a_lying_header_is_truncated_not_allocated() {
        let huge = bytes_of(TYPE_F32, &[u32::MAX, u32::MAX, u32::MAX], &[1, 2, 3]);
        assert!(matches!(
            parse_idx(&huge),
            Err(IdxErrorKind::Truncated {
                expected: u64::MAX,
                ..
            })
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = parse_idx(&bytes);
        }

        #[test]
        fn arrays_round_trip_through_bytes(
            dims in proptest::collection::vec(1usize..6, 1..4),
            floats in proptest::prelude::any::<bool>(),
            seed in proptest::prelude::any::<u64>(),
        ) {
            let n: usize = dims.iter().product();
            let bytes: Vec<u8> = (0..n).map(|i| (seed.wrapping_mul(i as u64 + 1) >> 7) as u8).collect();
            let data = if floats {
                IdxData::F32(bytes.iter().map(|&b| f32::from(b) / 7.0 - 3.0).collect())
            } else {
                IdxData::U8(bytes)
            };
            let array = IdxArray { dims, data };
            let encoded = encode_idx(&array).unwrap();
            proptest::prop_assert_eq!(parse_idx(&encoded).unwrap(), array);
        }
    }

    #[test]
    fn unit_f32_scales_bytes() {
        assert_eq!(IdxData::U8(vec![0, 255]).to_unit_f32(), vec![0.0, 1.0]);
    }
}
