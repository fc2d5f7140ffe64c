//! Pictures for the upload tests: real JPEGs of any size, and the same with EXIF a camera would write (an
//! orientation, and a string standing for what must not leak: make, serial, GPS position).

use image::{
    ImageEncoder, Rgb, RgbImage,
    codecs::{jpeg::JpegEncoder, png::PngEncoder},
};

/// What [`with_exif`] writes where a camera writes its make: no stored copy may contain it.
pub const EXIF_SECRET: &[u8] = b"SECRET-CAMERA-GPS";

/// A `width` x `height` JPEG of a gradient.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 120]));
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, 90)
        .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .expect("a JPEG encodes");
    bytes
}

/// A `width` x `height` JPEG of noise, which compresses badly: about 0.9 bytes a pixel.
pub fn noisy_jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let image = RgbImage::from_fn(width, height, |_, _| {
        // xorshift32: deterministic, and noisy enough that JPEG cannot shrink it.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [r, g, b, _] = state.to_le_bytes();
        Rgb([r, g, b])
    });
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, 90)
        .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .expect("a JPEG encodes");
    bytes
}

/// A `width` x `height` PNG of a gradient.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| Rgb([120, (x % 256) as u8, (y % 256) as u8]));
    let mut bytes = Vec::new();
    PngEncoder::new(&mut bytes)
        .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .expect("a PNG encodes");
    bytes
}

/// `jpeg` with an APP1 segment right after SOI carrying EXIF: the orientation `orientation` (1 to 8) and
/// [`EXIF_SECRET`] as the camera's make.
pub fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    // TIFF, big-endian: the header, then one IFD of two entries in tag order, Make (0x010F, ASCII, its
    // value after the IFD) and Orientation (0x0112, SHORT, in the entry), then the make's bytes.
    let make = [EXIF_SECRET, b"\0"].concat();
    let entries = 2u16;
    let value_offset = 8 + 2 + u32::from(entries) * 12 + 4;
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&entries.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x0F, 0, 2]);
    tiff.extend_from_slice(&(make.len() as u32).to_be_bytes());
    tiff.extend_from_slice(&value_offset.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]);
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(&make);
    let mut segment = b"Exif\0\0".to_vec();
    segment.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((segment.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&segment);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Whether a WebP file carries metadata chunks (EXIF, XMP, ICC) or [`EXIF_SECRET`] anywhere.
pub fn carries_metadata(webp: &[u8]) -> bool {
    webp.windows(4).any(|w| w == b"EXIF" || w == b"XMP " || w == b"ICCP")
        || webp.windows(EXIF_SECRET.len()).any(|w| w == EXIF_SECRET)
}
