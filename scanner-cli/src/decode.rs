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

    /// A real badge token, deterministic for `seed`: signed claims as the server issues them.
    fn token(seed: u32) -> String {
        let bytes = |salt: u32| {
            let mut out = [0u8; 16];
            for (i, b) in out.iter_mut().enumerate() {
                *b = (seed
                    .wrapping_mul(2_654_435_761)
                    .wrapping_add(salt * 97 + i as u32 * 31)
                    >> 7) as u8;
            }
            out
        };
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&bytes(1));
        key[16..].copy_from_slice(&bytes(2));
        let signer = consentry_badge::BadgeSigner::from_seed("kid0123abcd".into(), &key).unwrap();
        signer
            .sign(&consentry_badge::BadgeClaims {
                bid: uuid::Uuid::from_bytes(bytes(3)),
                eid: uuid::Uuid::from_bytes(bytes(4)),
                iat: 1_790_000_000 + i64::from(seed),
            })
            .unwrap()
    }

    /// Two badges side by side in one photo, turned a quarter, scaled by `num / den`.
    fn photo(a: &str, b: &str, num: u32, den: u32) -> DynamicImage {
        let (qa, qb) = (badge(a), badge(b));
        let mut canvas = GrayImage::from_pixel(
            qa.width() + qb.width() + 40,
            qa.height().max(qb.height()),
            Luma([255]),
        );
        imageops::overlay(&mut canvas, &qa, 0, 0);
        imageops::overlay(&mut canvas, &qb, i64::from(qa.width()) + 40, 0);
        let turned = imageops::rotate90(&canvas);
        let (w, h) = (turned.width() * num / den, turned.height() * num / den);
        DynamicImage::ImageLuma8(imageops::resize(&turned, w, h, FilterType::Triangle))
    }

    #[test]
    fn two_badges_in_one_turned_photo_are_both_read() {
        for seed in 0..20 {
            let (a, b) = (token(seed * 2), token(seed * 2 + 1));
            let found = decode_image(&photo(&a, &b, 1, 1));
            assert!(
                found.contains(&a) && found.contains(&b),
                "seed {seed}: found {}",
                found.len()
            );
        }
    }

    /// At half size a badge code has about three pixels per module, blurred: the decoder reads
    /// nearly all, not all. This pins the rate, so a change that makes it worse fails.
    #[test]
    fn small_badges_are_mostly_read() {
        let mut read = 0;
        for seed in 0..40 {
            let (a, b) = (token(seed * 2), token(seed * 2 + 1));
            let found = decode_image(&photo(&a, &b, 1, 2));
            read += usize::from(found.contains(&a)) + usize::from(found.contains(&b));
        }
        assert!(read >= 76, "{read} of 80 small codes read");
    }
}
