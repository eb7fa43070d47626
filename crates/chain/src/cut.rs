//! The tail cut, the collapse profile's positive control: a chain whose real
//! training set lacks its tail on purpose. The reference VAE (generation 0
//! of the same settings without a cut) scores every real training image,
//! and the share `cut_tail` it finds least likely (the highest negative
//! ELBO) is left out of every training set of the chain. The run folder's
//! `tail-cut.json` records which images went, so a resumed chain leaves out
//! the same ones and an analysis can find them.

use serde::{Deserialize, Serialize};

/// The record's file name in the run folder.
pub const RECORD: &str = "tail-cut.json";

/// `tail-cut.json`: which real training images a chain leaves out, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TailCutRecord {
    /// The share of the real training images cut.
    pub share: f64,
    /// The cache entry of the reference VAE that ranked them.
    pub reference: String,
    /// Real training images before the cut (the first N of the dataset).
    pub images: usize,
    /// The lowest negative ELBO among the images cut, in nats: every image
    /// kept scores at most this.
    pub threshold: f64,
    /// Indices into the dataset's training set of the images cut, ascending.
    pub removed: Vec<usize>,
}

impl TailCutRecord {
    /// The record of a cut of the `count` images with the highest `nelbo`
    /// (one value per real training image; ties go to the later image).
    pub fn new(share: f64, reference: String, nelbo: &[f32], count: usize) -> Self {
        let mut order: Vec<usize> = (0..nelbo.len()).collect();
        order.sort_by(|&a, &b| nelbo[b].total_cmp(&nelbo[a]).then(b.cmp(&a)));
        let mut removed = order[..count.min(nelbo.len())].to_vec();
        let threshold = removed
            .iter()
            .map(|&i| f64::from(nelbo[i]))
            .fold(f64::INFINITY, f64::min);
        removed.sort_unstable();
        TailCutRecord {
            share,
            reference,
            images: nelbo.len(),
            threshold,
            removed,
        }
    }

    /// Why the record does not fit a cut of `count` of `images` images (a
    /// record another run left, or one edited by hand); `None` where it fits.
    pub fn misfit(&self, images: usize, count: usize) -> Option<String> {
        let ascending = self.removed.windows(2).all(|w| w[0] < w[1]);
        let inside = self.removed.last().is_none_or(|&i| i < images);
        match (
            self.images == images && self.removed.len() == count,
            ascending && inside,
        ) {
            (false, _) => Some(format!(
                "names {} of {} images cut, the run cuts {count} of {images}",
                self.removed.len(),
                self.images
            )),
            (true, false) => Some(format!("its indices are not ascending and below {images}")),
            (true, true) => None,
        }
    }

    /// The indices of the images kept, ascending.
    pub fn kept(&self) -> Vec<usize> {
        let mut removed = self.removed.iter().peekable();
        (0..self.images)
            .filter(|i| match removed.peek() {
                Some(&&r) if r == *i => {
                    removed.next();
                    false
                }
                _ => true,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_likely_images_are_cut_and_the_rest_kept_in_order() {
        let nelbo = [90.0, 300.0, 120.0, 250.0, 80.0, 250.0];
        let cut = TailCutRecord::new(0.5, "k".into(), &nelbo, 3);
        assert_eq!(cut.removed, vec![1, 3, 5]);
        assert_eq!(cut.threshold, 250.0);
        assert_eq!(cut.kept(), vec![0, 2, 4]);
        assert_eq!(cut.misfit(6, 3), None);
        assert_eq!(
            cut.misfit(6, 2).unwrap(),
            "names 3 of 6 images cut, the run cuts 2 of 6"
        );
        let mut shuffled = cut.clone();
        shuffled.removed = vec![3, 1, 5];
        assert!(shuffled.misfit(6, 3).unwrap().contains("not ascending"));
        let tie = TailCutRecord::new(0.5, "k".into(), &nelbo, 2);
        assert_eq!(tie.removed, vec![1, 5], "a tie goes to the later image");
        assert_eq!(tie.kept(), vec![0, 2, 3, 4]);
    }
}
