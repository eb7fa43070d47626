//! Loading a catalogued dataset from a folder of IDX files, with checks.

use std::path::{Path, PathBuf};

use crate::catalogue::{DatasetSpec, FileRole, FileSpec, sha256_hex};
use crate::idx::{IdxData, IdxError, IdxErrorKind, parse_idx, read_bytes};

/// Images and labels of one split (train or test).
#[derive(Clone, Debug)]
pub struct Split {
    /// `count * rows * cols` pixels, 0 = background, 255 = ink.
    pub images: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
}

impl Split {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Keeps only the first `n` images (and labels).
    pub fn truncate(&mut self, n: usize, pixels: usize) {
        self.images.truncate(n * pixels);
        self.labels.truncate(n);
    }
}

/// Where one file of a loaded dataset came from.
#[derive(Clone, Debug)]
pub struct FileProvenance {
    /// The path read.
    pub path: PathBuf,
    /// SHA-256 of its decompressed contents.
    pub sha256: String,
    /// Whether that equals the catalogue's checksum.
    pub matches_catalogue: bool,
}

/// A dataset in memory.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The catalogue entry it was loaded as.
    pub spec: DatasetSpec,
    /// The training split.
    pub train: Split,
    /// The test split.
    pub test: Split,
    /// One entry per file, in the catalogue's order.
    pub provenance: Vec<FileProvenance>,
}

/// An error loading a dataset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// Some of the dataset's files are not in the folder.
    #[error("no {dataset} data in {}/ (missing {})", dir.display(), files.join(", "))]
    Missing {
        /// The dataset's name.
        dataset: &'static str,
        /// The folder looked in.
        dir: PathBuf,
        /// The files not found (neither `.gz` nor raw).
        files: Vec<&'static str>,
    },
    /// A file is not valid IDX.
    #[error(transparent)]
    Idx(IdxError),
    /// A file is valid IDX but not of the shape the dataset needs.
    #[error("{}: expected {expected}, found dimensions {found:?}", path.display())]
    WrongShape {
        /// The file.
        path: PathBuf,
        /// What was expected, in words.
        expected: String,
        /// The dimensions found.
        found: Vec<usize>,
    },
    /// The images and labels files of a split hold different counts.
    #[error("{} holds {image_count} images but {} holds {label_count} labels; they must agree", images.display(), labels.display())]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// Its count.
        image_count: usize,
        /// The labels file.
        labels: PathBuf,
        /// Its count.
        label_count: usize,
    },
    /// A label is outside `0..classes`.
    #[error("{}: label {index} is {value}, expected a class below 10", path.display())]
    BadLabel {
        /// The labels file.
        path: PathBuf,
        /// Index of the first bad label.
        index: usize,
        /// Its value.
        value: u8,
    },
}

/// The path of `file` in `dir`: the `.gz` name if present, else the raw name.
fn locate(dir: &Path, file: &FileSpec) -> Option<PathBuf> {
    [file.name, file.raw_name()]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Reads one file, checks its type and shape, and returns its dims, bytes and provenance.
fn load_file(
    path: PathBuf,
    file: &FileSpec,
    spec: &DatasetSpec,
) -> Result<(usize, Vec<u8>, FileProvenance), DatasetError> {
    let bytes = read_bytes(&path).map_err(|e| {
        DatasetError::Idx(IdxError {
            path: path.clone(),
            kind: IdxErrorKind::Io(e),
        })
    })?;
    let sha256 = sha256_hex(&bytes);
    let array = parse_idx(&bytes).map_err(|kind| {
        DatasetError::Idx(IdxError {
            path: path.clone(),
            kind,
        })
    })?;
    let images = matches!(file.role, FileRole::TrainImages | FileRole::TestImages);
    let [rows, cols] = spec.image_dims;
    let shape_ok = if images {
        array.dims.len() == 3 && array.dims[1..] == [rows, cols]
    } else {
        array.dims.len() == 1
    };
    let IdxData::U8(data) = array.data else {
        return Err(wrong_shape(
            path,
            images,
            spec,
            array.dims,
            "unsigned bytes",
        ));
    };
    if !shape_ok {
        return Err(wrong_shape(path, images, spec, array.dims, "dimensions"));
    }
    let provenance = FileProvenance {
        path,
        matches_catalogue: sha256 == file.sha256,
        sha256,
    };
    Ok((array.dims[0], data, provenance))
}

fn wrong_shape(
    path: PathBuf,
    images: bool,
    spec: &DatasetSpec,
    found: Vec<usize>,
    what: &str,
) -> DatasetError {
    let [rows, cols] = spec.image_dims;
    let expected = if images {
        format!("{what} of images: unsigned bytes [count, {rows}, {cols}] (IDX magic 2051)")
    } else {
        format!("{what} of labels: unsigned bytes [count] (IDX magic 2049)")
    };
    DatasetError::WrongShape {
        path,
        expected,
        found,
    }
}

impl Dataset {
    /// Loads `spec`'s four files from `dir` (each `.gz` or raw).
    pub fn load(spec: DatasetSpec, dir: &Path) -> Result<Dataset, DatasetError> {
        let paths: Vec<Option<PathBuf>> = spec.files.iter().map(|f| locate(dir, f)).collect();
        let missing: Vec<&'static str> = spec
            .files
            .iter()
            .zip(&paths)
            .filter(|(_, p)| p.is_none())
            .map(|(f, _)| f.name)
            .collect();
        if !missing.is_empty() {
            return Err(DatasetError::Missing {
                dataset: spec.name,
                dir: dir.to_path_buf(),
                files: missing,
            });
        }
        let mut loaded = Vec::with_capacity(4);
        for (file, path) in spec.files.iter().zip(paths.into_iter().flatten()) {
            loaded.push(load_file(path, file, &spec)?);
        }
        let mut provenance = Vec::with_capacity(4);
        let mut splits = Vec::with_capacity(2);
        let mut it = loaded.into_iter();
        while let (Some(images), Some(labels)) = (it.next(), it.next()) {
            let split = check_split(images, labels, spec.classes)?;
            provenance.extend(split.1);
            splits.push(split.0);
        }
        let test = splits.pop().expect("two splits");
        let train = splits.pop().expect("two splits");
        Ok(Dataset {
            spec,
            train,
            test,
            provenance,
        })
    }

    /// Pixels per image (`rows * cols`).
    pub fn pixels(&self) -> usize {
        self.spec.image_dims[0] * self.spec.image_dims[1]
    }
}

type Loaded = (usize, Vec<u8>, FileProvenance);

fn check_split(
    images: Loaded,
    labels: Loaded,
    classes: usize,
) -> Result<(Split, [FileProvenance; 2]), DatasetError> {
    let (image_count, image_bytes, image_prov) = images;
    let (label_count, label_bytes, label_prov) = labels;
    if image_count != label_count {
        return Err(DatasetError::CountMismatch {
            images: image_prov.path,
            image_count,
            labels: label_prov.path,
            label_count,
        });
    }
    if let Some((index, &value)) = label_bytes
        .iter()
        .enumerate()
        .find(|(_, v)| usize::from(**v) >= classes)
    {
        return Err(DatasetError::BadLabel {
            path: label_prov.path,
            index,
            value,
        });
    }
    Ok((
        Split {
            images: image_bytes,
            labels: label_bytes,
        },
        [image_prov, label_prov],
    ))
}
