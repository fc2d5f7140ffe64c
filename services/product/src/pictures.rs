//! Uploaded pictures: checking the bytes an admin sends, and making the WebP copies the shop serves.
//!
//! What is checked, before anything is stored:
//! - the size, at most [`MAX_BYTES`];
//! - the type, sniffed from the bytes' signature (JPEG, PNG or WebP), never taken from a name or a header;
//! - the dimensions, read from the header before any pixel is decoded: at most [`MAX_SIDE`] pixels a side
//!   and [`MAX_PIXELS`] in all, so a small file cannot decode into gigabytes; the decoder is held to a memory
//!   budget besides;
//! - that it decodes, whole.
//!
//! The picture is then turned upright as its EXIF orientation says, and encoded anew as lossy WebP at each of
//! [`WIDTHS`] narrower than it, and at its own width up to the widest. Only pixels go into the copies: EXIF
//! (camera, GPS position), XMP and colour profiles are left behind with the bytes sent, which are not kept.
//!
//! Decoding, resizing and encoding hold a core and, for a 40-megapixel picture, up to about 340 MB (the decoder
//! alone at most about 227 MB), so the work runs on the blocking pool, at most [`Pictures::CONCURRENT`] pictures at
//! a time; other uploads wait their turn, and one whose caller gives up still holds its place until it is done.
//!
//! [`Media`] writes the copies to the picture store ([`ec_platform::media`]) under keys no other picture
//! ever has, and [`MediaUrls`] names them for clients from `MEDIA_PUBLIC_URL`.

use std::{io::Cursor, sync::Arc};

use ec_platform::media::picture_key;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, imageops::FilterType};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::sync::Semaphore;
use url::Url;
use uuid::Uuid;

use crate::error::{Error, ProductError};

/// The largest upload, in bytes.
pub const MAX_BYTES: usize = ec_platform::media::MAX_PICTURE_BYTES;
/// The most pixels a picture may have.
pub const MAX_PIXELS: u64 = 40_000_000;
/// The longest side a picture may have, in pixels.
pub const MAX_SIDE: u32 = 12_000;
/// The widths of the copies made, narrowest first; a picture narrower than the widest is also kept at its own
/// width.
pub const WIDTHS: [u32; 4] = [320, 640, 960, 1600];
/// The most the decoder may allocate: 40 MP of 8-bit RGBA, and 64 MiB besides.
const DECODER_BUDGET: u64 = MAX_PIXELS * 4 + 64 * 1024 * 1024;
/// WebP quality (0 to 100) of the copies: libwebp's lossy encoder, a little above its default of 75.
const QUALITY: f32 = 82.0;

/// Why an upload was refused; every one is the sender's to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PictureError {
    #[error("a picture is at most {max} MiB; this one is {0} bytes", max = MAX_BYTES / 1024 / 1024)]
    TooLarge(usize),
    #[error("the picture is empty")]
    Empty,
    #[error("only JPEG, PNG and WebP pictures are taken; these bytes are not one of them")]
    UnsupportedType,
    #[error(
        "a picture is at most {MAX_SIDE} pixels a side and {mp} megapixels; this one is {0}x{1}",
        mp = MAX_PIXELS / 1_000_000
    )]
    TooManyPixels(u32, u32),
    #[error("the picture does not decode: {0}")]
    Undecodable(String),
}

/// A picture, checked and made into its copies: its size upright, and the copies, narrowest first.
#[derive(Clone, Debug)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub variants: Vec<Variant>,
}

/// One WebP copy of a picture.
#[derive(Clone, Debug)]
pub struct Variant {
    pub width: u32,
    pub height: u32,
    pub webp: Vec<u8>,
}

/// The height of the copy `width` pixels wide of a picture `full_width` x `full_height`, kept in proportion.
pub fn variant_height(full_width: u32, full_height: u32, width: u32) -> u32 {
    let height = (u64::from(full_height) * u64::from(width) + u64::from(full_width) / 2) / u64::from(full_width);
    u32::try_from(height.max(1)).unwrap_or(u32::MAX)
}

/// The widths of the copies of a picture `width` pixels wide, narrowest first.
pub fn widths_for(width: u32) -> Vec<u32> {
    let widest = width.min(WIDTHS[WIDTHS.len() - 1]);
    let mut widths: Vec<u32> = WIDTHS.into_iter().filter(|w| *w < widest).collect();
    widths.push(widest);
    widths
}

/// The picture processor: the blocking work, held to a few at a time.
#[derive(Clone, Debug)]
pub struct Pictures {
    permits: Arc<Semaphore>,
}

impl Default for Pictures {
    fn default() -> Self {
        Self { permits: Arc::new(Semaphore::new(Self::CONCURRENT)) }
    }
}

impl Pictures {
    /// How many pictures are processed at once (each may hold a few hundred MB while it is).
    pub const CONCURRENT: usize = 2;

    /// Checks `data` and makes its copies, narrowest first.
    pub async fn process(&self, data: Vec<u8>) -> Result<Picture, PictureError> {
        let permit = self.permits.clone().acquire_owned().await.expect("the semaphore is never closed");
        // The permit goes with the work: a caller that stops waiting frees no place while it still runs.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            process(&data)
        })
        .await
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
    }
}

/// The picture store, and the processor that fills it.
#[derive(Clone)]
pub struct Media {
    store: Arc<dyn ObjectStore>,
    pictures: Pictures,
}

impl std::fmt::Debug for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Media").field("store", &self.store.to_string()).finish_non_exhaustive()
    }
}

impl Media {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self { store, pictures: Pictures::default() }
    }

    /// Checks `data` and makes its copies ([`process`]); the refusal is the caller's to fix.
    pub async fn process(&self, data: Vec<u8>) -> Result<Picture, Error> {
        Ok(self.pictures.process(data).await.map_err(ProductError::from)?)
    }

    /// Writes the copies of picture `id`, all at once. On failure, removes what was written.
    pub async fn put(&self, id: Uuid, variants: &[Variant]) -> Result<(), Error> {
        let writes = variants.iter().map(|variant| {
            let payload = PutPayload::from(variant.webp.clone());
            async move { self.store.put(&picture_key(id, variant.width), payload).await }
        });
        if let Err(e) = futures::future::try_join_all(writes).await {
            tracing::error!(error = %e, picture = %id, "writing a picture to the store failed");
            self.remove(id, &variants.iter().map(|v| v.width).collect::<Vec<_>>()).await;
            return Err(Error::Unavailable("the picture store could not be written to; try again"));
        }
        Ok(())
    }

    /// Removes the copies of picture `id` at `widths`. A copy that cannot be removed is logged and left: it
    /// takes space, but nothing names it any more.
    pub async fn remove(&self, id: Uuid, widths: &[u32]) {
        for &width in widths {
            let key = picture_key(id, width);
            match self.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => tracing::warn!(error = %e, %key, "a removed picture's copy could not be deleted"),
            }
        }
    }
}

/// Where clients fetch stored pictures: `MEDIA_PUBLIC_URL` (a CDN, say) joined with the [`picture_key`], or
/// without it a path on the BFF's origin, `/media/<key>`, which the BFF serves.
#[derive(Clone, Debug, Default)]
pub struct MediaUrls {
    base: Option<Url>,
}

impl MediaUrls {
    pub fn new(base: Option<Url>) -> Self {
        let base = base.map(|mut url| {
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            url
        });
        Self { base }
    }

    /// The URL of the copy of picture `id` that is `width` pixels wide.
    pub fn of(&self, id: Uuid, width: u32) -> String {
        let key = picture_key(id, width);
        match &self.base {
            Some(base) => format!("{base}{key}"),
            None => format!("/media/{key}"),
        }
    }
}

/// Checks `data` and makes its copies, narrowest first (blocking).
pub fn process(data: &[u8]) -> Result<Picture, PictureError> {
    let image = decode(data)?;
    let (full_width, full_height) = (image.width(), image.height());
    // Widest first, each from the one before, so each step reads fewer pixels than the picture has; Catmull-Rom
    // (bicubic) is sharp, with a narrower kernel than Lanczos.
    let mut variants = Vec::new();
    let mut source = image;
    for width in widths_for(full_width).into_iter().rev() {
        let height = variant_height(full_width, full_height, width);
        if (width, height) != (source.width(), source.height()) {
            source = source.resize_exact(width, height, FilterType::CatmullRom);
        }
        variants.push(Variant { width, height, webp: encode(&source) });
    }
    variants.reverse();
    Ok(Picture { width: full_width, height: full_height, variants })
}

/// The picture in `data`, checked and upright, as 8-bit RGB or RGBA.
fn decode(data: &[u8]) -> Result<DynamicImage, PictureError> {
    if data.is_empty() {
        return Err(PictureError::Empty);
    }
    if data.len() > MAX_BYTES {
        return Err(PictureError::TooLarge(data.len()));
    }
    let format = match image::guess_format(data) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => format,
        _ => return Err(PictureError::UnsupportedType),
    };
    let undecodable = |e: image::ImageError| PictureError::Undecodable(e.to_string());
    let mut reader = ImageReader::with_format(Cursor::new(data), format);
    // The dimensions are checked below, from the header; this bounds what the decoder may allocate: a 40-MP
    // picture of 8-bit RGBA and a margin, so a 16-bit RGBA picture of over about 28 MP is refused.
    let mut limits = Limits::default();
    limits.max_alloc = Some(DECODER_BUDGET);
    reader.limits(limits);
    let too_large = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => PictureError::Undecodable(format!(
            "decoding it would take over {} MB (a 16-bit picture of many megapixels?)",
            DECODER_BUDGET / 1_000_000
        )),
        other => PictureError::Undecodable(other.to_string()),
    };
    let mut decoder = reader.into_decoder().map_err(too_large)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(PictureError::Undecodable("it has no pixels".into()));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PictureError::TooManyPixels(width, height));
    }
    let orientation = decoder.orientation().map_err(undecodable)?;
    let image = DynamicImage::from_decoder(decoder).map_err(too_large)?;
    // 8 bits a channel before turning, which copies the picture: the larger buffer is gone by then.
    let mut image = if image.color().has_alpha() {
        DynamicImage::ImageRgba8(image.into_rgba8())
    } else {
        DynamicImage::ImageRgb8(image.into_rgb8())
    };
    image.apply_orientation(orientation);
    Ok(image)
}

/// Lossy WebP of an 8-bit RGB or RGBA picture; nothing but its pixels.
fn encode(image: &DynamicImage) -> Vec<u8> {
    let encoder = match image {
        DynamicImage::ImageRgba8(rgba) => webp::Encoder::from_rgba(rgba.as_raw(), rgba.width(), rgba.height()),
        DynamicImage::ImageRgb8(rgb) => webp::Encoder::from_rgb(rgb.as_raw(), rgb.width(), rgb.height()),
        other => unreachable!("decode gives RGB8 or RGBA8, not {:?}", other.color()),
    };
    encoder.encode(QUALITY).to_vec()
}

#[cfg(test)]
mod tests {
    use ec_testing::pictures::{EXIF_SECRET, carries_metadata, jpeg, png, with_exif};

    use super::*;

    fn dimensions(webp: &[u8]) -> (u32, u32) {
        let image = image::load_from_memory_with_format(webp, ImageFormat::WebP).unwrap();
        (image.width(), image.height())
    }

    #[test]
    fn copies_are_webp_at_each_narrower_width_and_its_own() {
        let picture = process(&jpeg(1000, 500)).unwrap();
        assert_eq!((picture.width, picture.height), (1000, 500));
        let variants = picture.variants;
        let sizes: Vec<(u32, u32)> = variants.iter().map(|v| (v.width, v.height)).collect();
        assert_eq!(sizes, [(320, 160), (640, 320), (960, 480), (1000, 500)]);
        for variant in &variants {
            assert_eq!(&variant.webp[..4], b"RIFF");
            assert_eq!(&variant.webp[8..12], b"WEBP");
            assert_eq!(dimensions(&variant.webp), (variant.width, variant.height));
        }
        let widest = process(&jpeg(2400, 100)).unwrap().variants;
        assert_eq!(widest.iter().map(|v| v.width).collect::<Vec<_>>(), WIDTHS);
        assert_eq!(widest.last().map(|v| v.height), Some(67));
        assert_eq!(
            process(&jpeg(200, 300)).unwrap().variants.iter().map(|v| (v.width, v.height)).collect::<Vec<_>>(),
            [(200, 300)]
        );
    }

    #[test]
    fn exif_turns_the_picture_and_goes_no_further() {
        let sent = with_exif(&jpeg(400, 200), 6);
        assert!(sent.windows(EXIF_SECRET.len()).any(|w| w == EXIF_SECRET));
        let picture = process(&sent).unwrap();
        assert_eq!((picture.width, picture.height), (200, 400));
        let variants = picture.variants;
        // Orientation 6: the camera was turned a quarter; upright, the picture is taller than wide.
        assert_eq!(variants.iter().map(|v| (v.width, v.height)).collect::<Vec<_>>(), [(200, 400)]);
        assert!(!carries_metadata(&variants[0].webp));
    }

    #[test]
    fn what_is_not_a_picture_we_take_is_refused() {
        assert_eq!(process(b"").unwrap_err(), PictureError::Empty);
        assert_eq!(process(b"GIF89a....").unwrap_err(), PictureError::UnsupportedType);
        assert_eq!(process(b"<svg xmlns='http://www.w3.org/2000/svg'/>").unwrap_err(), PictureError::UnsupportedType);
        assert_eq!(process(&vec![0u8; MAX_BYTES + 1]).unwrap_err(), PictureError::TooLarge(MAX_BYTES + 1));
        // A PNG cut short after its header (JPEG decoders fill a cut-off picture in grey instead).
        let cut = png(300, 300);
        assert!(matches!(process(&cut[..cut.len() / 3]), Err(PictureError::Undecodable(_))));
        assert_eq!(process(&png(300, 200)).unwrap().variants.iter().map(|v| v.width).collect::<Vec<_>>(), [300]);
        // A JPEG whose frame header claims 20,000 x 20,000 pixels: refused before its pixels are decoded.
        let mut huge = jpeg(16, 16);
        let sof = huge.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        huge[sof + 5..sof + 7].copy_from_slice(&20_000u16.to_be_bytes());
        huge[sof + 7..sof + 9].copy_from_slice(&20_000u16.to_be_bytes());
        assert_eq!(process(&huge).unwrap_err(), PictureError::TooManyPixels(20_000, 20_000));
    }

    #[test]
    fn urls_join_the_public_base_and_the_key() {
        let id = Uuid::nil();
        let key = format!("products/{id}/640.webp");
        for base in ["https://cdn.example/media", "https://cdn.example/media/"] {
            let urls = MediaUrls::new(Some(base.parse().unwrap()));
            assert_eq!(urls.of(id, 640), format!("https://cdn.example/media/{key}"));
        }
        assert_eq!(MediaUrls::default().of(id, 640), format!("/media/{key}"));
    }

    #[test]
    fn heights_keep_the_proportion() {
        assert_eq!(variant_height(1000, 500, 320), 160);
        assert_eq!(variant_height(3, 2, 1), 1);
        assert_eq!(variant_height(10_000, 1, 320), 1);
        assert_eq!(widths_for(320), [320]);
        assert_eq!(widths_for(321), [320, 321]);
        assert_eq!(widths_for(12_000), WIDTHS);
    }
}
