//! Image sets as NumPy `.npy` files, the format a model outside this tool
//! reads its training set from and writes its samples to: `float32` grey
//! values in [0, 1], C order, shape `[n, height, width]`. NumPy reads and
//! writes them with `np.load` and `np.save` alone.
//!
//! Reading checks everything a set must be before the chain uses it, and a
//! refusal names the file and the first thing wrong in one line.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;

/// A `.npy` image set that cannot be read or written, or is not what was asked.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not an image set as asked: its dtype, order, shape,
    /// count or a value.
    #[error("{}: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The first thing wrong with it.
        problem: String,
    },
}

impl NpyError {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> NpyError + '_ {
        move |source| NpyError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn invalid(path: &Path, problem: String) -> NpyError {
        NpyError::Invalid {
            path: path.to_path_buf(),
            problem,
        }
    }
}

/// The `float32` little-endian dtype every set has.
const FLOAT32: &str = "<f4";

/// Values written or decoded at a time.
const BLOCK: usize = 1 << 16;

/// Writes `pixels`, `count` images of `dims` (height, width) one after
/// another, to `path` as a `.npy` set, atomically and durably.
pub fn write_images(
    path: &Path,
    pixels: &[f32],
    count: usize,
    dims: [usize; 2],
) -> Result<(), NpyError> {
    write_array(path, pixels, &[count, dims[0], dims[1]])
}

/// Writes `values`, a `float32` array of `shape` in C order, to `path` as a
/// `.npy` file, atomically and durably.
pub fn write_array(path: &Path, values: &[f32], shape: &[usize]) -> Result<(), NpyError> {
    assert_eq!(
        values.len(),
        shape.iter().product::<usize>(),
        "values of an array of shape {shape:?}"
    );
    collapse_records::atomic::write_with(path, |w| {
        let dtype = npyz::DType::Plain(FLOAT32.parse().expect("a valid type string"));
        let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let w = npyz::WriteOptions::new_header_only()
            .dtype(dtype)
            .shape(&shape)
            .writer(w)
            .write_header_only()?;
        // The values in bulk, a block at a time: what the header says, C order.
        let mut block = Vec::with_capacity(4 * BLOCK);
        for chunk in values.chunks(BLOCK) {
            block.clear();
            block.extend(chunk.iter().flat_map(|v| v.to_le_bytes()));
            w.write_all(&block)?;
        }
        Ok(())
    })
    .map_err(NpyError::io(path))
}

/// Reads the `float32` array at `path` whose shape has `dims` dimensions:
/// its values in C order and its shape.
pub fn read_array(path: &Path, dims: usize) -> Result<(Vec<f32>, Vec<usize>), NpyError> {
    let npy = open(path, dims)?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let values = read_values(path, npy, shape.iter().product())?;
    Ok((values, shape))
}

/// The values after the header of `npy`, which has `count` of them as raw
/// little-endian `float32` (its header checked), read straight into the
/// buffer they stay in.
fn read_values(
    path: &Path,
    npy: npyz::NpyFile<BufReader<File>>,
    count: usize,
) -> Result<Vec<f32>, NpyError> {
    let wanted = 4 * count;
    let mut reader = npy.into_inner();
    let header = reader.stream_position().map_err(NpyError::io(path))?;
    let stored = reader
        .get_ref()
        .metadata()
        .map_err(NpyError::io(path))?
        .len()
        .saturating_sub(header);
    if stored != wanted as u64 {
        return Err(NpyError::invalid(
            path,
            format!("holds {stored} bytes of values where its shape needs {wanted}"),
        ));
    }
    let mut values = vec![0f32; count];
    reader
        .read_exact(bytemuck::cast_slice_mut(&mut values))
        .map_err(NpyError::io(path))?;
    for v in &mut values {
        *v = f32::from_le_bytes(v.to_ne_bytes());
    }
    Ok(values)
}

/// The `.npy` file at `path`, its header read and checked: `float32`, C
/// order, `dims` dimensions.
fn open(path: &Path, dims: usize) -> Result<npyz::NpyFile<BufReader<File>>, NpyError> {
    let file = File::open(path).map_err(NpyError::io(path))?;
    let npy = npyz::NpyFile::new(BufReader::new(file))
        .map_err(|e| NpyError::invalid(path, format!("not a .npy file ({e})")))?;
    let dtype = match npy.dtype() {
        npyz::DType::Plain(type_str) => type_str.to_string(),
        other => other.descr(),
    };
    if dtype != FLOAT32 {
        return Err(NpyError::invalid(
            path,
            format!("dtype {dtype} is not float32 ({FLOAT32}); save the images as np.float32"),
        ));
    }
    if npy.order() != npyz::Order::C {
        return Err(NpyError::invalid(
            path,
            "is in Fortran order; save a C-contiguous array (np.ascontiguousarray)".to_string(),
        ));
    }
    if npy.shape().len() != dims {
        let shape = npy.shape();
        let problem = match dims {
            3 => format!("shape {shape:?} is not [n, height, width]"),
            _ => format!("shape {shape:?} has {} dimensions, not {dims}", shape.len()),
        };
        return Err(NpyError::invalid(path, problem));
    }
    Ok(npy)
}

/// The images a `.npy` set holds and their height and width, from its
/// header, refusing a file that is no image set.
pub fn shape_of(path: &Path) -> Result<(usize, [usize; 2]), NpyError> {
    let npy = open(path, 3)?;
    let shape = npy.shape();
    Ok((shape[0] as usize, [shape[1] as usize, shape[2] as usize]))
}

/// Reads the `.npy` set at `path`: `float32`, C order, shape `[n, dims[0],
/// dims[1]]` with `n` equal to `count` where one is asked, every value finite
/// and in [0, 1]. Returns its pixels, image after image.
pub fn read_images(
    path: &Path,
    dims: [usize; 2],
    count: Option<usize>,
) -> Result<Vec<f32>, NpyError> {
    let npy = open(path, 3)?;
    let shape: Vec<u64> = npy.shape().to_vec();
    let wanted = [dims[0] as u64, dims[1] as u64];
    if shape[1..] != wanted {
        return Err(NpyError::invalid(
            path,
            format!(
                "shape {shape:?} is not [n, {}, {}] (images of {}x{})",
                dims[0], dims[1], dims[0], dims[1]
            ),
        ));
    }
    let n = shape[0] as usize;
    if let Some(count) = count.filter(|&c| c != n) {
        return Err(NpyError::invalid(
            path,
            format!("holds {n} images where {count} were asked"),
        ));
    }
    let pixels = read_values(path, npy, n * dims[0] * dims[1])?;
    let per_image = dims[0] * dims[1];
    if let Some(at) = pixels
        .iter()
        .position(|v| !v.is_finite() || !(0.0..=1.0).contains(v))
    {
        let value = pixels[at];
        let what = match value.is_finite() {
            true => format!("{value}, outside [0, 1]"),
            false => format!("{value}"),
        };
        return Err(NpyError::invalid(
            path,
            format!("image {} holds {what}", at / per_image),
        ));
    }
    Ok(pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIMS: [usize; 2] = [2, 3];

    #[test]
    fn a_set_written_reads_back_bit_for_bit() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("set.npy");
        let pixels: Vec<f32> = (0..12).map(|i| i as f32 / 11.0).collect();
        write_images(&path, &pixels, 2, DIMS).unwrap();
        let back = read_images(&path, DIMS, Some(2)).unwrap();
        assert_eq!(back, pixels);
        let header = std::fs::read(&path).unwrap();
        assert!(header.starts_with(b"\x93NUMPY"));
        let text = String::from_utf8_lossy(&header[..128]).into_owned();
        assert!(text.contains("'descr': '<f4'"), "{text}");
        assert!(text.contains("'shape': (2, 2, 3"), "{text}");
    }

    #[test]
    fn an_array_of_any_shape_reads_back_with_its_shape() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("features.npy");
        let values: Vec<f32> = (0..15).map(|i| i as f32 * -1.5).collect();
        write_array(&path, &values, &[5, 3]).unwrap();
        assert_eq!(read_array(&path, 2).unwrap(), (values, vec![5, 3]));
        let refused = read_array(&path, 1).unwrap_err().to_string();
        assert!(
            refused.ends_with("features.npy: shape [5, 3] has 2 dimensions, not 1"),
            "{refused}"
        );
    }

    /// Writes `values` as an array of `shape` and `dtype` (a numpy descr).
    fn written<T: npyz::Serialize + Copy>(
        path: &Path,
        values: &[T],
        shape: &[u64],
        dtype: &str,
        order: npyz::Order,
    ) {
        let dtype = npyz::DType::Plain(dtype.parse().unwrap());
        let mut file = File::create(path).unwrap();
        let mut writer = npyz::WriteOptions::new()
            .dtype(dtype)
            .shape(shape)
            .order(order)
            .writer(&mut file)
            .begin_nd()
            .unwrap();
        writer.extend(values.iter().copied()).unwrap();
        writer.finish().unwrap();
    }

    #[test]
    fn every_wrong_set_is_refused_naming_the_problem() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("bad.npy");
        let refused =
            |count: Option<usize>| read_images(&path, DIMS, count).unwrap_err().to_string();
        let c = npyz::Order::C;
        let ok: Vec<f32> = vec![0.5; 12];

        written(&path, &[0.5f64; 12], &[2, 2, 3], "<f8", c);
        assert!(
            refused(None).ends_with(
                "bad.npy: dtype <f8 is not float32 (<f4); save the images as np.float32"
            )
        );
        written(&path, &ok, &[2, 2, 3], "<f4", npyz::Order::Fortran);
        assert!(refused(None).contains("Fortran order"));
        written(&path, &ok, &[2, 6], "<f4", c);
        assert!(refused(None).ends_with("shape [2, 6] is not [n, height, width]"));
        written(&path, &ok, &[2, 3, 2], "<f4", c);
        assert!(refused(None).ends_with("shape [2, 3, 2] is not [n, 2, 3] (images of 2x3)"));
        assert_eq!(shape_of(&path).unwrap(), (2, [3, 2]));
        written(&path, &ok, &[2, 2, 3], "<f4", c);
        assert!(refused(Some(3)).ends_with("holds 2 images where 3 were asked"));
        let mut nan = ok.clone();
        nan[7] = f32::NAN;
        written(&path, &nan, &[2, 2, 3], "<f4", c);
        assert!(refused(None).ends_with("image 1 holds NaN"));
        let mut high = ok.clone();
        high[2] = 1.5;
        written(&path, &high, &[2, 2, 3], "<f4", c);
        assert!(refused(None).ends_with("image 0 holds 1.5, outside [0, 1]"));
        written(&path, &ok, &[2, 2, 3], "<f4", c);
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, &whole[..whole.len() - 4]).unwrap();
        assert!(refused(None).ends_with("holds 44 bytes of values where its shape needs 48"));
        std::fs::write(&path, b"not numpy").unwrap();
        assert!(refused(None).contains("not a .npy file"));
        let missing = read_images(&tmp.path().join("none.npy"), DIMS, None).unwrap_err();
        assert!(matches!(missing, NpyError::Io { .. }));
    }
}
