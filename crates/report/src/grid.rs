//! Sample grids as PNG images, and the GIF that animates them across generations.

use std::io::Cursor;
use std::path::Path;

use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::png::PngEncoder;
use image::{Delay, Frame, GrayImage, ImageEncoder, Luma, RgbaImage};

use crate::error::ReportError;

/// Pixels of padding between grid cells.
const PAD: u32 = 2;
/// Grey level of the padding.
const PAD_LEVEL: u8 = 96;

/// Lays out `pixels` (`count × h × w` values in `[0, 1]`, row-major) as a grid
/// with `cols` columns, each pixel enlarged `scale` times.
pub fn grid_image(pixels: &[f32], [h, w]: [usize; 2], cols: usize, scale: u32) -> GrayImage {
    let count = pixels.len() / (h * w);
    let rows = count.div_ceil(cols);
    let (ch, cw) = (h as u32 * scale, w as u32 * scale);
    let width = cols as u32 * (cw + PAD) + PAD;
    let height = rows as u32 * (ch + PAD) + PAD;
    let mut img = GrayImage::from_pixel(width, height, Luma([PAD_LEVEL]));
    for (i, cell) in pixels.chunks_exact(h * w).enumerate() {
        let x0 = PAD + (i % cols) as u32 * (cw + PAD);
        let y0 = PAD + (i / cols) as u32 * (ch + PAD);
        for y in 0..ch {
            for x in 0..cw {
                let v = cell[(y / scale) as usize * w + (x / scale) as usize];
                let level = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                img.put_pixel(x0 + x, y0 + y, Luma([level]));
            }
        }
    }
    img
}

/// Writes a greyscale PNG atomically.
pub fn save_png(path: &Path, img: &GrayImage) -> Result<(), ReportError> {
    let mut bytes = Vec::new();
    PngEncoder::new(&mut bytes)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::L8,
        )
        .map_err(|source| ReportError::Image {
            path: path.to_path_buf(),
            source,
        })?;
    collapse_records::atomic::write(path, &bytes).map_err(|e| ReportError::io(path, e))
}

/// Reads a PNG back as greyscale.
pub fn read_png(path: &Path) -> Result<GrayImage, ReportError> {
    let bytes = std::fs::read(path).map_err(|e| ReportError::io(path, e))?;
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .map(|i| i.into_luma8())
        .map_err(|source| ReportError::Image {
            path: path.to_path_buf(),
            source,
        })
}

/// Writes an endlessly looping GIF of `frames`, `delay_ms` each, atomically.
pub fn save_gif(path: &Path, frames: &[GrayImage], delay_ms: u32) -> Result<(), ReportError> {
    let err = |source| ReportError::Image {
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(Cursor::new(&mut bytes), 10);
        encoder.set_repeat(Repeat::Infinite).map_err(err)?;
        for frame in frames {
            let rgba = RgbaImage::from_fn(frame.width(), frame.height(), |x, y| {
                let l = frame.get_pixel(x, y)[0];
                image::Rgba([l, l, l, 255])
            });
            let delay = Delay::from_numer_denom_ms(delay_ms, 1);
            encoder
                .encode_frame(Frame::from_parts(rgba, 0, 0, delay))
                .map_err(err)?;
        }
    }
    collapse_records::atomic::write(path, &bytes).map_err(|e| ReportError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_places_cells_with_padding() {
        // Two 2×2 images: all black, all white.
        let pixels = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
        let img = grid_image(&pixels, [2, 2], 2, 1);
        assert_eq!(
            (img.width(), img.height()),
            (2 * (2 + PAD) + PAD, 2 + 2 * PAD)
        );
        assert_eq!(img.get_pixel(PAD, PAD)[0], 0);
        assert_eq!(img.get_pixel(2 * PAD + 2, PAD)[0], 255);
        assert_eq!(img.get_pixel(0, 0)[0], PAD_LEVEL);
    }

    #[test]
    fn png_and_gif_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let img = grid_image(&[0.5; 16], [4, 4], 1, 2);
        let png = dir.join("g.png");
        save_png(&png, &img).unwrap();
        assert_eq!(read_png(&png).unwrap(), img);
        let gif = dir.join("g.gif");
        save_gif(&gif, &[img.clone(), img], 300).unwrap();
        assert!(std::fs::read(&gif).unwrap().starts_with(b"GIF89a"));
    }
}
