//! Reading badge QR codes from photos: several per image, any rotation, small ones enlarged.

use std::path::Path;

use anyhow::Context;
use image::{DynamicImage, GrayImage, imageops::FilterType};

fn decode_gray(gray: GrayImage) -> Vec<String> {
    let mut prepared = rqrr::PreparedImage::prepare(gray);
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .collect()
}

/// Every QR code text found in `image`, at any rotation. A photo may hold several badges of
/// different sizes, so the image is read at its own size and enlarged (small or far-away codes),
/// or halved (very large photos), and what any scale finds counts.
pub fn decode_image(image: &DynamicImage) -> Vec<String> {
    let gray = image.to_luma8();
    let (w, h) = (gray.width(), gray.height());
    let mut found = decode_gray(gray.clone());
    if w < 2000 {
        let mut bigger = image::imageops::resize(&gray, w * 2, h * 2, FilterType::Triangle);
        found.extend(decode_gray(bigger.clone()));
        // Blur from shrinking or focus: a hard black-and-white edge is easier to find.
        let mean = (bigger.pixels().map(|p| u64::from(p.0[0])).sum::<u64>()
            / u64::from((w * 2 * h * 2).max(1))) as u8;
        for p in bigger.pixels_mut() {
            p.0[0] = if p.0[0] < mean { 0 } else { 255 };
        }
        found.extend(decode_gray(bigger));
    }
    if w < 1000 {
        found.extend(decode_gray(image::imageops::resize(
            &gray,
            w * 3,
            h * 3,
            FilterType::Nearest,
        )));
    }
    if w > 2000 {
        found.extend(decode_gray(image::imageops::resize(
            &gray,
            w / 2,
            h / 2,
            FilterType::Triangle,
        )));
    }
    let mut unique = Vec::new();
    for text in found {
        if !unique.contains(&text) {
            unique.push(text);
        }
    }
    unique
}

pub fn decode_file(path: &Path) -> anyhow::Result<Vec<String>> {
    let image =
        image::open(path).with_context(|| format!("cannot read image {}", path.display()))?;
    Ok(decode_image(&image))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma, imageops};
    use qrcode::{EcLevel, QrCode};

    /// A badge as the server renders it: EC level Q, quiet zone, at least 400 px.
    fn badge(text: &str) -> GrayImage {
        QrCode::with_error_correction_level(text.as_bytes(), EcLevel::Q)
            .unwrap()
            .render::<Luma<u8>>()
            .quiet_zone(true)
            .min_dimensions(400, 400)
            .build()
    }

    /// Badge-sized tokens (about 240 characters of base64url and dots), varied.
    fn token(seed: u32) -> String {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..240)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                if i == 48 || i == 153 {
                    '.'
                } else {
                    char::from(alphabet[(state % 64) as usize])
                }
            })
            .collect()
    }

    #[test]
    fn two_badges_in_one_turned_half_size_photo_are_both_read() {
        for seed in 0..12 {
            let (a, b) = (token(seed * 2), token(seed * 2 + 1));
            let (qa, qb) = (badge(&a), badge(&b));
            let mut canvas = GrayImage::from_pixel(
                qa.width() + qb.width() + 40,
                qa.height().max(qb.height()),
                Luma([255]),
            );
            imageops::overlay(&mut canvas, &qa, 0, 0);
            imageops::overlay(&mut canvas, &qb, i64::from(qa.width()) + 40, 0);
            let turned = imageops::rotate90(&canvas);
            let small = imageops::resize(
                &turned,
                turned.width() / 2,
                turned.height() / 2,
                FilterType::Triangle,
            );
            let found = decode_image(&DynamicImage::ImageLuma8(small));
            assert!(
                found.contains(&a) && found.contains(&b),
                "seed {seed}: found {}",
                found.len()
            );
        }
    }
}
