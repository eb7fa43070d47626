//! One f32 matrix multiply into a buffer the caller owns, by the `gemm`
//! crate's kernels (the ones Burn's flex backend calls, AVX-512 included).
//!
//! flex's own `matmul` returns a new tensor each time, and allocates it by
//! zero-filling a byte vector that its buffer type then copies once more to
//! align it, for every few images the lowering multiplies. Here a task multiplies into a buffer it reuses,
//! or adds its product straight into a running sum.
//!
//! This is the project's only `unsafe`: `gemm` takes raw pointers and
//! strides. [`Mat`] checks, before the call, that every element the strides
//! reach lies inside its slice, and the borrows keep the output apart from
//! the inputs, so the safe [`matmul_into`] cannot read or write out of bounds.
#![allow(unsafe_code)]

/// A read-only `rows × cols` matrix over a slice: element `(i, j)` at
/// `i * row_stride + j * col_stride`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Mat<'a> {
    /// `data` read as a row-major `rows × cols` matrix.
    ///
    /// # Panics
    /// If `data` has fewer than `rows * cols` values.
    pub(crate) fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        let mat = Mat {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        };
        assert!(
            mat.in_bounds(),
            "a {rows}x{cols} matrix over {} values",
            data.len()
        );
        mat
    }

    /// `data` read with the given strides: element `(i, j)` at
    /// `i * row_stride + j * col_stride` (a transposed or broadcast view).
    ///
    /// # Panics
    /// If the strides reach past the end of `data`.
    pub(crate) fn strided(
        data: &'a [f32],
        [rows, cols]: [usize; 2],
        [row_stride, col_stride]: [usize; 2],
    ) -> Self {
        let mat = Mat {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        };
        assert!(
            mat.in_bounds(),
            "a {rows}x{cols} matrix of strides {row_stride}, {col_stride} over {} values",
            data.len()
        );
        mat
    }

    /// Number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// The transpose, a view over the same values.
    pub(crate) fn t(self) -> Self {
        Mat {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Whether the last element the strides reach lies inside the slice.
    fn in_bounds(&self) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        let last = (self.rows - 1)
            .checked_mul(self.row_stride)
            .and_then(|r| (self.cols - 1).checked_mul(self.col_stride)?.checked_add(r));
        last.is_some_and(|last| last < self.data.len())
    }
}

/// Panics unless `a · b` is defined and `out` holds exactly its `a.rows × b.cols` values.
fn check_shapes(out: &[f32], a: Mat<'_>, b: Mat<'_>) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(
        k, b.rows,
        "inner dimensions of a {m}x{k} and a {}x{n} matrix",
        b.rows
    );
    assert_eq!(
        Some(out.len()),
        m.checked_mul(n),
        "a {m}x{n} product into {} values",
        out.len()
    );
    debug_assert!(a.in_bounds() && b.in_bounds());
}

/// `out` (row-major, `a.rows × b.cols`) set to `a · b`, or `a · b` added to it
/// when `accumulate`. `parallel` lets gemm split the product over the thread
/// pool (over output blocks only: the sums run in the same order either way).
///
/// # Panics
/// If the inner dimensions differ or `out` does not hold `a.rows × b.cols` values.
pub(crate) fn matmul_into(
    out: &mut [f32],
    a: Mat<'_>,
    b: Mat<'_>,
    accumulate: bool,
    parallel: bool,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    check_shapes(out, a, b);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out.fill(0.0);
        }
        return;
    }
    let parallelism = if parallel {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: `a` and `b` were checked on construction (and `t` keeps the
    // check true) so that every `i * row_stride + j * col_stride` for `i < rows`,
    // `j < cols` indexes inside their slices; `out` is a distinct, exclusively
    // borrowed, initialised `m × n` row-major buffer (row stride n, column
    // stride 1), whose length `check_shapes` asserted without overflow.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook triple loop, the reference.
    fn naive(a: Mat<'_>, b: Mat<'_>) -> Vec<f32> {
        let mut out = vec![0.0f32; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                out[i * b.cols + j] = (0..a.cols)
                    .map(|p| {
                        a.data[i * a.row_stride + p * a.col_stride]
                            * b.data[p * b.row_stride + j * b.col_stride]
                    })
                    .sum();
            }
        }
        out
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn products_match_the_triple_loop_in_every_layout() {
        let (m, k, n) = (37, 70, 19);
        let a = values(m * k, 1);
        let b = values(k * n, 2);
        let at = values(k * m, 3);
        let bt = values(n * k, 4);
        let cases = [
            (Mat::row_major(&a, m, k), Mat::row_major(&b, k, n)),
            (Mat::row_major(&at, k, m).t(), Mat::row_major(&b, k, n)),
            (Mat::row_major(&a, m, k), Mat::row_major(&bt, n, k).t()),
            (Mat::row_major(&at, k, m).t(), Mat::row_major(&bt, n, k).t()),
        ];
        for (x, y) in cases {
            for parallel in [false, true] {
                let mut out = vec![f32::NAN; m * n];
                matmul_into(&mut out, x, y, false, parallel);
                close(&out, &naive(x, y));
            }
        }
    }

    #[test]
    fn strided_views_read_the_values_their_strides_name() {
        // A 3x2 matrix stored column by column, and a row broadcast to 4 rows.
        let cols = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let a = Mat::strided(&cols, [3, 2], [1, 3]);
        let row = [1.0, -1.0, 0.5];
        let b = Mat::strided(&row, [2, 3], [0, 1]);
        let mut out = vec![0.0f32; 9];
        matmul_into(&mut out, a, b, false, false);
        close(&out, &naive(a, b));
        assert_eq!(out[..3], [5.0, -5.0, 2.5]);
    }

    #[test]
    #[should_panic(expected = "a 3x2 matrix of strides 1, 3 over 5 values")]
    fn strides_past_the_end_are_refused() {
        Mat::strided(&[0.0; 5], [3, 2], [1, 3]);
    }

    #[test]
    fn accumulating_adds_the_product_to_what_is_there() {
        let (m, k, n) = (8, 33, 5);
        let a = values(m * k, 5);
        let b = values(k * n, 6);
        let start = values(m * n, 7);
        let mut out = start.clone();
        let (x, y) = (Mat::row_major(&a, m, k), Mat::row_major(&b, k, n));
        matmul_into(&mut out, x, y, true, false);
        let want: Vec<f32> = naive(x, y).iter().zip(&start).map(|(p, s)| p + s).collect();
        close(&out, &want);
    }

    #[test]
    fn an_empty_inner_dimension_gives_zeros_or_leaves_the_sum() {
        let mut out = vec![3.0f32; 6];
        matmul_into(
            &mut out,
            Mat::row_major(&[], 2, 0),
            Mat::row_major(&[], 0, 3),
            true,
            false,
        );
        assert_eq!(out, [3.0; 6]);
        matmul_into(
            &mut out,
            Mat::row_major(&[], 2, 0),
            Mat::row_major(&[], 0, 3),
            false,
            false,
        );
        assert_eq!(out, [0.0; 6]);
    }

    #[test]
    #[should_panic(expected = "a 3x4 matrix over 11 values")]
    fn a_short_slice_is_refused_before_any_read() {
        Mat::row_major(&[0.0; 11], 3, 4);
    }

    #[test]
    #[should_panic(expected = "a 2x2 product into 3 values")]
    fn a_short_output_is_refused_before_any_write() {
        let a = [1.0f32; 4];
        matmul_into(
            &mut [0.0; 3],
            Mat::row_major(&a, 2, 2),
            Mat::row_major(&a, 2, 2),
            false,
            false,
        );
    }
}
