//! Badge images: the QR code as PNG and SVG, and a printable A6 badge.

use std::io::Cursor;

use image::{ImageFormat, Luma};
use qrcode::{EcLevel, QrCode, render::svg};

/// Error correction Q (25 %): a printed badge stays readable when creased, scuffed or partly
/// covered by a lanyard clip.
const EC_LEVEL: EcLevel = EcLevel::Q;

fn code(token: &str) -> anyhow::Result<QrCode> {
    QrCode::with_error_correction_level(token.as_bytes(), EC_LEVEL)
        .map_err(|e| anyhow::anyhow!("cannot encode the badge as a QR code: {e}"))
}

/// The QR code as a PNG with the standard four-module quiet zone, at least 400 px wide.
pub fn qr_png(token: &str) -> anyhow::Result<Vec<u8>> {
    let image = code(token)?
        .render::<Luma<u8>>()
        .quiet_zone(true)
        .min_dimensions(400, 400)
        .build();
    let mut png = Cursor::new(Vec::new());
    image.write_to(&mut png, ImageFormat::Png)?;
    Ok(png.into_inner())
}

/// The QR code as a standalone SVG document with quiet zone.
pub fn qr_svg(token: &str) -> anyhow::Result<String> {
    Ok(code(token)?
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(400, 400)
        .build())
}

/// What a printed badge shows of the person (only on paper, never in the QR code).
pub struct PrintedBadge<'a> {
    pub event_name: &'a str,
    pub full_name: &'a str,
    pub company: Option<&'a str>,
    pub token: &'a str,
}

/// An A6 portrait badge (105 × 148 mm) as SVG: event, name, company and the QR code.
pub fn printable_svg(badge: &PrintedBadge<'_>) -> anyhow::Result<String> {
    let qr = code(badge.token)?;
    let modules = qr.width();
    let colors = qr.to_colors();
    // The QR block: 80 mm wide including a 4-module quiet zone on each side.
    let size_mm = 80.0_f64;
    let module_mm = size_mm / (modules + 8) as f64;
    let origin_x = (105.0 - size_mm) / 2.0 + 4.0 * module_mm;
    let origin_y = 58.0 + 4.0 * module_mm;
    let mut path = String::new();
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let x = origin_x + (i % modules) as f64 * module_mm;
            let y = origin_y + (i / modules) as f64 * module_mm;
            path.push_str(&format!(
                "M{x:.3} {y:.3}h{module_mm:.3}v{module_mm:.3}h-{module_mm:.3}z"
            ));
        }
    }
    let company = badge
        .company
        .map(|c| {
            format!(
                r#"<text x="52.5" y="48" font-size="6" text-anchor="middle">{}</text>"#,
                xml_escape(c)
            )
        })
        .unwrap_or_default();
    Ok(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="105mm" height="148mm" viewBox="0 0 105 148" font-family="Helvetica, Arial, sans-serif">
<rect width="105" height="148" fill="#fff"/>
<text x="52.5" y="16" font-size="5" text-anchor="middle" fill="#444">{event}</text>
<text x="52.5" y="36" font-size="10" font-weight="bold" text-anchor="middle">{name}</text>
{company}
<rect x="{qx:.3}" y="58" width="{size_mm}" height="{size_mm}" fill="#fff"/>
<path d="{path}" fill="#000"/>
</svg>
"##,
        event = xml_escape(badge.event_name),
        name = xml_escape(badge.full_name),
        qx = (105.0 - size_mm) / 2.0,
    ))
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6ImFiYyJ9.eyJiaWQiOiIxIn0.c2lnbmF0dXJl";

    fn decode_png(png: &[u8]) -> String {
        let image = image::load_from_memory(png).unwrap().to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(image);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        grids[0].decode().unwrap().1
    }

    #[test]
    fn the_png_decodes_back_to_the_token() {
        let png = qr_png(TOKEN).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        assert_eq!(decode_png(&png), TOKEN);
    }

    #[test]
    fn the_svg_is_a_document() {
        let svg = qr_svg(TOKEN).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }

    #[test]
    fn the_printable_badge_escapes_names() {
        let svg = printable_svg(&PrintedBadge {
            event_name: "Summit",
            full_name: "Ada <script>&",
            company: Some("O'Brien & Co"),
            token: TOKEN,
        })
        .unwrap();
        assert!(svg.contains("width=\"105mm\" height=\"148mm\""));
        assert!(svg.contains("Ada &lt;script&gt;&amp;"));
        assert!(svg.contains("O&apos;Brien &amp; Co"));
        assert!(!svg.contains("<script>"));
    }
}
