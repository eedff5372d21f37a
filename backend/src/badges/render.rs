//! Badge images: the QR code as PNG and SVG, and a printable A6 badge.

use std::io::Cursor;

use image::ImageFormat;
use qrcode::{
    Color, EcLevel,
    canvas::{Canvas, MaskPattern},
    render::{Renderer, svg},
};

/// Error correction Q (25 %): a printed badge stays readable when creased, scuffed or partly
/// covered by a lanyard clip.
const EC_LEVEL: EcLevel = EcLevel::Q;

/// The standard quiet zone of a (non-micro) QR code, in modules.
const QUIET_ZONE: u32 = 4;

/// A QR code's modules, row by row, and its width in modules.
struct Code {
    colors: Vec<Color>,
    width: usize,
}

impl Code {
    fn renderer<P: qrcode::render::Pixel>(&self) -> Renderer<'_, P> {
        let mut renderer = Renderer::new(&self.colors, self.width, QUIET_ZONE);
        renderer.quiet_zone(true).min_dimensions(400, 400);
        renderer
    }
}

const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// Encode `text` as `QrCode::with_error_correction_level` does, module for module, at a fifth of
/// the cost. That function spends nine tenths of a badge's rendering time scoring the eight masks
/// (2.5 ms for a badge token, measured in `benches/hot_paths.rs`); [`mask_penalty`] applies the
/// same rules over a flat array. A test checks that both choose the same mask.
fn code(text: &str) -> anyhow::Result<Code> {
    let failed = |e| anyhow::anyhow!("cannot encode the badge as a QR code: {e}");
    let bits = byte_mode_bits(text.as_bytes())?;
    let version = bits.version();
    let (data, ec) =
        qrcode::ec::construct_codewords(&bits.into_bytes(), version, EC_LEVEL).map_err(failed)?;
    let mut canvas = Canvas::new(version, EC_LEVEL);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &ec);
    let width = usize::try_from(version.width())?;
    let colors = MASKS
        .iter()
        .map(|mask| {
            let mut masked = canvas.clone();
            masked.apply_mask(*mask);
            masked.into_colors()
        })
        .min_by_key(|colors| mask_penalty(colors, width))
        .ok_or_else(|| anyhow::anyhow!("no QR mask"))?;
    Ok(Code { colors, width })
}

/// `text` in byte mode, in the smallest version it fits. Not `encode_auto`: mixing numeric and
/// alphanumeric runs into a base64 token saves nothing on average and, on unlucky random badge
/// ids, costs a version, while byte mode makes the size a function of the length alone — the
/// same for every badge of an event, as docs/ARCHITECTURE.md states it.
fn byte_mode_bits(text: &[u8]) -> anyhow::Result<qrcode::bits::Bits> {
    for version in 1..=40 {
        let mut bits = qrcode::bits::Bits::new(qrcode::Version::Normal(version));
        if bits.push_byte_data(text).is_ok() && bits.push_terminator(EC_LEVEL).is_ok() {
            return Ok(bits);
        }
    }
    anyhow::bail!(
        "cannot encode the badge as a QR code: {} bytes is too long",
        text.len()
    )
}

/// The QR standard's mask penalty (ISO/IEC 18004 §7.8.3) as the qrcode crate scores it, less its
/// constant offset: runs of five or more, 2×2 blocks, finder-like patterns, and the dark/light
/// balance. (The crate compares its `Module`s, but once a mask is applied every module is
/// `Masked`, so colours alone decide.)
fn mask_penalty(modules: &[Color], width: usize) -> u32 {
    let dark = |module: Color| module == Color::Dark;
    let mut columns = Vec::with_capacity(modules.len());
    for x in 0..width {
        columns.extend(modules.iter().skip(x).step_by(width));
    }
    let mut score = 0;
    for line in modules
        .chunks_exact(width)
        .chain(columns.chunks_exact(width))
    {
        // Runs of 5 + n modules of one colour: 3 + n points, counted as the run grows. Written
        // without branches: on a QR code's noise-like modules they would mispredict half the time.
        let mut run = 1_u32;
        for pair in line.windows(2) {
            run = run * u32::from(pair[0] == pair[1]) + 1;
            score += 3 * u32::from(run == 5) + u32::from(run > 5);
        }
        // Dark-light-dark-dark-dark-light-dark with four light modules (or the edge) on one side:
        // 40 points.
        let no_dark_in = |from: usize, to: usize| {
            !line[from.min(width)..to.min(width)]
                .iter()
                .any(|module| dark(*module))
        };
        let mut window = 0_u8;
        for (k, module) in line.iter().enumerate() {
            window = (window << 1 | u8::from(dark(*module))) & 0b111_1111;
            if k >= 6 && window == 0b101_1101 {
                let start = k - 6;
                if no_dark_in(start.saturating_sub(4), start) || no_dark_in(k + 1, k + 5) {
                    score += 40;
                }
            }
        }
    }
    // 2×2 blocks of one colour: 3 points each.
    for (upper, lower) in modules
        .chunks_exact(width)
        .zip(modules.chunks_exact(width).skip(1))
    {
        for x in 0..width - 1 {
            let this = upper[x];
            let same = (this == upper[x + 1]) & (this == lower[x]) & (this == lower[x + 1]);
            score += 3 * u32::from(same);
        }
    }
    // Distance of the dark share from 50 %, in half percent.
    let dark_modules = modules.iter().filter(|m| dark(**m)).count();
    let ratio = dark_modules * 200 / modules.len();
    score += u32::try_from(ratio.abs_diff(100)).unwrap_or(u32::MAX);
    score
}

/// The code as a grey image: whole pixels per module, the quiet zone included, at least 400 px
/// wide. The same pixels as the qrcode crate's renderer, built a row at a time rather than a pixel
/// at a time, which is a fifth of a badge's rendering time saved.
fn luma_image(code: &Code) -> image::GrayImage {
    const LIGHT: u8 = 255;
    let quiet = QUIET_ZONE as usize;
    let modules = code.width + 2 * quiet;
    let scale = 400_usize.div_ceil(modules);
    let side = modules * scale;
    let mut pixels = Vec::with_capacity(side * side);
    let light_rows =
        |pixels: &mut Vec<u8>| pixels.resize(pixels.len() + quiet * scale * side, LIGHT);
    light_rows(&mut pixels);
    let mut row = Vec::with_capacity(side);
    for line in code.colors.chunks_exact(code.width) {
        row.clear();
        row.resize(quiet * scale, LIGHT);
        for module in line {
            let value = if *module == Color::Dark { 0 } else { LIGHT };
            row.resize(row.len() + scale, value);
        }
        row.resize(side, LIGHT);
        for _ in 0..scale {
            pixels.extend_from_slice(&row);
        }
    }
    light_rows(&mut pixels);
    let side = u32::try_from(side).unwrap_or(u32::MAX);
    image::GrayImage::from_raw(side, side, pixels).unwrap_or_default()
}

/// The QR code as a PNG with the standard four-module quiet zone, at least 400 px wide.
pub fn qr_png(token: &str) -> anyhow::Result<Vec<u8>> {
    let image = luma_image(&code(token)?);
    let mut png = Cursor::new(Vec::new());
    image.write_to(&mut png, ImageFormat::Png)?;
    Ok(png.into_inner())
}

/// The QR code as a standalone SVG document with quiet zone.
pub fn qr_svg(token: &str) -> anyhow::Result<String> {
    Ok(code(token)?.renderer::<svg::Color<'_>>().build())
}

/// What a printed badge shows of the person (only on paper, never in the QR code).
pub struct PrintedBadge<'a> {
    pub event_name: &'a str,
    pub full_name: &'a str,
    pub company: Option<&'a str>,
    /// What the QR code holds ([`super::qr_text`]).
    pub qr_text: &'a str,
}

/// An A6 portrait badge (105 × 148 mm) as SVG: event, name, company and the QR code.
pub fn printable_svg(badge: &PrintedBadge<'_>) -> anyhow::Result<String> {
    let Code {
        colors,
        width: modules,
    } = code(badge.qr_text)?;
    // The QR block: 80 mm wide including a 4-module quiet zone on each side.
    let size_mm = 80.0_f64;
    let module_mm = size_mm / (modules + 8) as f64;
    let origin_x = (105.0 - size_mm) / 2.0 + 4.0 * module_mm;
    let origin_y = 58.0 + 4.0 * module_mm;
    let mut path = String::new();
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let x = origin_x + (i % modules) as f64 * module_mm;
            let y = origin_y + (i / modules) as f64 * module_mm;
            path.push_str(&format!(
                "M{x:.3} {y:.3}h{module_mm:.3}v{module_mm:.3}h-{module_mm:.3}z"
            ));
        }
    }
    let event = fitted_text(
        badge.event_name,
        9.0,
        TextFit {
            size: 5.0,
            min_size: 3.5,
            max_lines: 2,
            bold: false,
        },
        "#444",
    );
    let name = fitted_text(
        badge.full_name,
        36.0,
        TextFit {
            size: 10.0,
            min_size: 5.5,
            max_lines: 3,
            bold: true,
        },
        "#000",
    );
    let company = badge
        .company
        .map(|c| {
            fitted_text(
                c,
                51.0,
                TextFit {
                    size: 6.0,
                    min_size: 4.0,
                    max_lines: 2,
                    bold: false,
                },
                "#000",
            )
        })
        .unwrap_or_default();
    Ok(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="105mm" height="148mm" viewBox="0 0 105 148" font-family="Helvetica, Arial, sans-serif">
<rect width="105" height="148" fill="#fff"/>
{event}
{name}
{company}
<rect x="{qx:.3}" y="58" width="{size_mm}" height="{size_mm}" fill="#fff"/>
<path d="{path}" fill="#000"/>
</svg>
"##,
        qx = (105.0 - size_mm) / 2.0,
    ))
}

/// The width text may take on the badge: the A6 page less 6 mm on each side.
const TEXT_WIDTH_MM: f64 = 93.0;

/// How a line of the printable badge is set: its usual size, how small it may get, and on how
/// many lines it may wrap.
#[derive(Debug, Clone, Copy)]
struct TextFit {
    size: f64,
    min_size: f64,
    max_lines: usize,
    bold: bool,
}

/// A generous estimate of a line's width in mm at `size`: Helvetica's widest common glyphs run
/// to about 0.6 em (0.65 em bold); wide scripts (CJK) take a full em.
fn line_width(line: &str, size: f64, bold: bool) -> f64 {
    let em = if bold { 0.65 } else { 0.6 };
    line.chars()
        .map(|c| if u32::from(c) >= 0x1100 { 1.0 } else { em })
        .sum::<f64>()
        * size
}

/// `text` in at most `fit.max_lines` lines, at the largest size from `fit.size` down to
/// `fit.min_size` at which every line fits [`TEXT_WIDTH_MM`]: long names and companies shrink,
/// then wrap between words, rather than being clipped at the page's edge. A word too long for a
/// line even at the smallest size is broken where it must be.
fn fit_lines(text: &str, fit: TextFit) -> (f64, Vec<String>) {
    let mut size = fit.size;
    loop {
        let lines = wrap(text, TEXT_WIDTH_MM, size, fit.bold);
        if lines.len() <= fit.max_lines || size <= fit.min_size {
            return (size, lines);
        }
        size = (size - 0.5).max(fit.min_size);
    }
}

/// Greedy word wrap to `width` mm at `size`, breaking inside a word only when it alone is wider.
fn wrap(text: &str, width: f64, size: f64, bold: bool) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if line_width(&candidate, size, bold) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            line.push(c);
            if line_width(&line, size, bold) > width {
                line.pop();
                lines.push(std::mem::take(&mut line));
                line.push(c);
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` as an SVG `<text>` centred on the page, fitted (see [`fit_lines`]) with its last line's
/// baseline at `bottom` mm, so that more lines grow upwards into the space above.
fn fitted_text(text: &str, bottom: f64, fit: TextFit, fill: &str) -> String {
    let (size, lines) = fit_lines(text, fit);
    let leading = size * 1.15;
    let top = bottom - leading * lines.len().saturating_sub(1) as f64;
    let weight = if fit.bold {
        r#" font-weight="bold""#
    } else {
        ""
    };
    let spans: String = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            format!(
                r#"<tspan x="52.5" y="{y:.2}">{}</tspan>"#,
                xml_escape(line),
                y = top + leading * i as f64
            )
        })
        .collect();
    format!(
        r#"<text font-size="{size:.2}"{weight} text-anchor="middle" fill="{fill}">{spans}</text>"#
    )
}

/// `text` as XML character data. Characters XML 1.0 does not allow (controls other than tab and
/// newlines, U+FFFE and U+FFFF) are left out: names are checked for them when they are given
/// (`validation::text`), and a name stored before that check must not break a badge.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use image::Luma;

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
    fn long_names_and_companies_shrink_and_wrap_to_fit_the_badge() {
        let name = "Anastasia Wilhelmina Theodora van der Oude-Wetering-Smith";
        let company = "Internationale Vereniging voor Privacybescherming en Ethiek";
        assert!(name.len() >= 55 && company.len() >= 55);
        for (text, fit) in [
            (
                name,
                TextFit {
                    size: 10.0,
                    min_size: 5.5,
                    max_lines: 3,
                    bold: true,
                },
            ),
            (
                company,
                TextFit {
                    size: 6.0,
                    min_size: 4.0,
                    max_lines: 2,
                    bold: false,
                },
            ),
            (
                &"W".repeat(100)[..],
                TextFit {
                    size: 10.0,
                    min_size: 5.5,
                    max_lines: 3,
                    bold: true,
                },
            ),
        ] {
            let (size, lines) = fit_lines(text, fit);
            assert!(size >= fit.min_size, "{text}: {size}");
            assert!(!lines.is_empty());
            for line in &lines {
                assert!(
                    line_width(line, size, fit.bold) <= TEXT_WIDTH_MM,
                    "{line:?} at {size}"
                );
            }
            // Nothing is lost: the lines hold every character of the text.
            let kept: String = lines.concat().split_whitespace().collect();
            let given: String = text.split_whitespace().collect();
            assert_eq!(kept, given);
        }
        // A short name keeps its size, on one line.
        assert_eq!(
            fit_lines(
                "Ada Lovelace",
                TextFit {
                    size: 10.0,
                    min_size: 5.5,
                    max_lines: 3,
                    bold: true
                }
            ),
            (10.0, vec!["Ada Lovelace".to_owned()])
        );
    }

    #[test]
    fn text_xml_does_not_allow_is_left_out_of_a_badge() {
        assert_eq!(
            xml_escape("Summit \u{FFFF}\u{0}<&>\"'"),
            "Summit &lt;&amp;&gt;&quot;&apos;"
        );
        assert_eq!(xml_escape("Zoë 李"), "Zoë 李");
    }

    #[test]
    fn the_png_decodes_back_to_the_token() {
        let png = qr_png(TOKEN).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        assert_eq!(decode_png(&png), TOKEN);
    }

    #[test]
    fn the_mask_is_the_one_the_qrcode_crate_chooses() {
        // Badge-like tokens of every length a badge token can have, and some beyond.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for length in (20..400).step_by(3) {
            let token: String = (0..length)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize] as char
                })
                .collect();
            let ours = code(&token).unwrap();
            let bits = byte_mode_bits(token.as_bytes()).unwrap();
            let theirs = qrcode::QrCode::with_bits(bits, EC_LEVEL).unwrap();
            assert_eq!(ours.width, theirs.width(), "length {length}");
            assert!(ours.colors == theirs.to_colors(), "length {length}");
        }
    }

    #[test]
    fn the_image_has_the_pixels_of_the_qrcode_crates_renderer() {
        for length in [20, 64, 180, 240, 267, 400] {
            let token = "x".repeat(length);
            let code = code(&token).unwrap();
            let theirs = code.renderer::<Luma<u8>>().build();
            assert_eq!(luma_image(&code), theirs, "length {length}");
        }
    }

    /// A real badge link: an 11-character kid, two 16-byte ids, a 10-digit time, behind a public
    /// address of `public_url_length` characters.
    fn badge_link(public_url_length: usize) -> String {
        let signer =
            consentry_badge::BadgeSigner::from_seed("AbCdEfGhIjK".into(), &[7; 32]).unwrap();
        let token = signer
            .sign(&consentry_badge::BadgeClaims {
                bid: uuid::Uuid::new_v4(),
                eid: uuid::Uuid::new_v4(),
                iat: 1_800_000_000,
            })
            .unwrap();
        let host = "x".repeat(public_url_length - "https://".len());
        super::super::qr_text(&format!("https://{host}"), &token)
    }

    fn version(text: &str) -> usize {
        (code(text).unwrap().width - 17) / 4
    }

    /// The size stated in docs/ARCHITECTURE.md: a badge link behind a public address of 14 to 47
    /// characters (`https://registration.example-events.org` is 39) is a version 15 QR code, 77
    /// modules plus the quiet zone, 0.94 mm a module on the printed A6 badge; the bare token (242
    /// characters, whatever the badge) is version 14.
    #[test]
    fn a_badge_link_is_a_version_15_code() {
        for length in [22, 39, 47] {
            assert_eq!(version(&badge_link(length)), 15, "address of {length}");
        }
        assert_eq!(version(&badge_link(48)), 16);
        let link = badge_link(22);
        let token = link.split_once('#').unwrap().1;
        assert_eq!(token.len(), 242);
        assert_eq!(version(token), 14);
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
            qr_text: TOKEN,
        })
        .unwrap();
        assert!(svg.contains("width=\"105mm\" height=\"148mm\""));
        assert!(svg.contains("Ada &lt;script&gt;&amp;"));
        assert!(svg.contains("O&apos;Brien &amp; Co"));
        assert!(!svg.contains("<script>"));
    }
}
