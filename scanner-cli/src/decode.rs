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

/// Every QR code text found in `image`. rqrr finds codes at any rotation; when none is found the
/// image is tried again enlarged (a badge far from the camera) and then shrunk (a huge photo).
pub fn decode_image(image: &DynamicImage) -> Vec<String> {
    let gray = image.to_luma8();
    let mut found = decode_gray(gray.clone());
    if found.is_empty() && gray.width() < 1600 {
        let bigger = image::imageops::resize(
            &gray,
            gray.width() * 3,
            gray.height() * 3,
            FilterType::Nearest,
        );
        found = decode_gray(bigger);
    }
    if found.is_empty() && gray.width() > 2000 {
        let smaller = image::imageops::resize(
            &gray,
            gray.width() / 2,
            gray.height() / 2,
            FilterType::Triangle,
        );
        found = decode_gray(smaller);
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
