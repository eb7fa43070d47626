//! The datasets the tool knows: their file names, checksums and download mirrors.
//!
//! Checksums are SHA-256 of the *decompressed* IDX files, so a file verifies
//! whatever gzip produced it (Debian's Fashion-MNIST package, for instance,
//! ships recompressed copies of the upstream files with the same contents).
//! MNIST's values are those of the canonical files (LeCun & Cortes); the
//! Fashion-MNIST values were computed from Debian's `dataset-fashion-mnist`.

/// What a file of a dataset holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileRole {
    /// Training images, `[count, rows, cols]` unsigned bytes.
    TrainImages,
    /// Training labels, `[count]` unsigned bytes.
    TrainLabels,
    /// Test images.
    TestImages,
    /// Test labels.
    TestLabels,
}

/// One file of a dataset.
#[derive(Clone, Copy, Debug)]
pub struct FileSpec {
    /// What the file holds.
    pub role: FileRole,
    /// File name as distributed (gzip-compressed).
    pub name: &'static str,
    /// SHA-256 of the decompressed file, lowercase hex.
    pub sha256: &'static str,
}

impl FileSpec {
    /// The file name without its `.gz` suffix (the raw IDX name).
    pub fn raw_name(&self) -> &'static str {
        self.name.strip_suffix(".gz").unwrap_or(self.name)
    }
}

/// A dataset in the catalogue.
#[derive(Clone, Copy, Debug)]
pub struct DatasetSpec {
    /// Short name used on the command line and as the folder name under `datasets/`.
    pub name: &'static str,
    /// Human-readable title.
    pub title: &'static str,
    /// The four files: train images, train labels, test images, test labels.
    pub files: [FileSpec; 4],
    /// Base URLs (ending in `/`) tried in order by `collapse fetch`.
    pub mirrors: &'static [&'static str],
    /// Image height and width.
    pub image_dims: [usize; 2],
    /// Number of classes (labels are `0..classes`).
    pub classes: usize,
    /// Images in the training files, for estimates made before they are read.
    pub train_images: usize,
}

impl DatasetSpec {
    /// Where a dataset's files are when no folder is given: `datasets/NAME`
    /// under the working folder.
    pub fn default_dir(&self) -> std::path::PathBuf {
        std::path::Path::new("datasets").join(self.name)
    }

    /// The file with the given role.
    pub fn file(&self, role: FileRole) -> &FileSpec {
        self.files
            .iter()
            .find(|f| f.role == role)
            .expect("every catalogue entry has all four roles")
    }
}

const MNIST: DatasetSpec = DatasetSpec {
    name: "mnist",
    title: "MNIST handwritten digits (LeCun & Cortes)",
    files: [
        FileSpec {
            role: FileRole::TrainImages,
            name: "train-images-idx3-ubyte.gz",
            sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        },
        FileSpec {
            role: FileRole::TrainLabels,
            name: "train-labels-idx1-ubyte.gz",
            sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        },
        FileSpec {
            role: FileRole::TestImages,
            name: "t10k-images-idx3-ubyte.gz",
            sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        },
        FileSpec {
            role: FileRole::TestLabels,
            name: "t10k-labels-idx1-ubyte.gz",
            sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
    ],
    // torchvision's mirror, then the bucket TensorFlow's MNIST tutorials used.
    mirrors: &[
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    image_dims: [28, 28],
    classes: 10,
    train_images: 60_000,
};

const FASHION_MNIST: DatasetSpec = DatasetSpec {
    name: "fashion-mnist",
    title: "Fashion-MNIST (Zalando Research)",
    files: [
        FileSpec {
            role: FileRole::TrainImages,
            name: "train-images-idx3-ubyte.gz",
            sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        },
        FileSpec {
            role: FileRole::TrainLabels,
            name: "train-labels-idx1-ubyte.gz",
            sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        },
        FileSpec {
            role: FileRole::TestImages,
            name: "t10k-images-idx3-ubyte.gz",
            sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        },
        FileSpec {
            role: FileRole::TestLabels,
            name: "t10k-labels-idx1-ubyte.gz",
            sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    ],
    // The upstream bucket that torchvision and TensorFlow (Keras) both use.
    mirrors: &[
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ],
    image_dims: [28, 28],
    classes: 10,
    train_images: 60_000,
};

/// The catalogue of known datasets.
pub struct Catalogue;

impl Catalogue {
    /// Every dataset, in the order `--help` lists them.
    pub const ALL: [DatasetSpec; 2] = [MNIST, FASHION_MNIST];

    /// The dataset with this name, if any.
    pub fn get(name: &str) -> Option<DatasetSpec> {
        Self::ALL.into_iter().find(|d| d.name == name)
    }

    /// Names of all datasets, for error messages.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|d| d.name).collect()
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_name() {
        assert_eq!(Catalogue::get("mnist").unwrap().name, "mnist");
        assert!(Catalogue::get("cifar").is_none());
        let f = Catalogue::get("fashion-mnist").unwrap();
        assert_eq!(
            f.file(FileRole::TestLabels).raw_name(),
            "t10k-labels-idx1-ubyte"
        );
    }

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
