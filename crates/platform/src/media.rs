//! The picture store: where the product service writes the copies of uploaded pictures and the BFF reads
//! them to serve `/media/...`, through the `object_store` crate.
//!
//! `MEDIA_STORE` names it as a URL:
//! - `file:///var/lib/ec/media`: a directory (made if missing), for `ec dev` and a single machine;
//! - `s3://bucket[/prefix]`: Amazon S3 or any store speaking its API (MinIO, Ceph, R2, ...). Credentials,
//!   region and endpoint come from the standard `AWS_*` variables (`AWS_ACCESS_KEY_ID`, `AWS_REGION`,
//!   `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, ...), or from the URL's query string with the same names in lower
//!   case and without the `aws_` prefix (`?endpoint=http://127.0.0.1:9000&allow_http=true`), which wins.
//!   Credentials belong in the `AWS_*` variables or the platform's secret store; the query may carry them
//!   (the tests' moto does), and the setting is kept out of `--help` and debug output for that reason.
//!
//! The keys are [`picture_key`]s: one object per picture and width, written once and never changed, so that
//! whoever serves them may let clients cache them for a year.

use std::sync::Arc;

use object_store::{ObjectStore, aws::AmazonS3Builder, local::LocalFileSystem, path::Path, prefix::PrefixStore};
use uuid::Uuid;

/// The largest picture that may be uploaded, in bytes: the product service's limit, and what the BFF lets
/// through for that one procedure.
pub const MAX_PICTURE_BYTES: usize = 10 * 1024 * 1024;

/// Where uploaded pictures are stored, for the processes that write (the product service) and serve (the
/// BFF) them.
#[derive(Clone, Default, clap::Args)]
pub struct MediaArgs {
    /// Where uploaded pictures are stored: file:///absolute/dir, or s3://bucket[/prefix] with the standard
    /// AWS_* variables (docs/operations.md). Unset, pictures cannot be uploaded (products keep image links)
    /// and the BFF serves no /media/. `ec dev` keeps them in a directory of its own.
    #[arg(id = "media_store", long = "media-store", env = "MEDIA_STORE", hide_env_values = true)]
    pub media_store: Option<String>,
}

/// The store's URL without its query, which may carry credentials.
impl std::fmt::Debug for MediaArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.media_store.as_deref().map(|url| url.split_once('?').map_or(url, |(base, _)| base));
        f.debug_struct("MediaArgs").field("media_store", &shown).finish()
    }
}

impl MediaArgs {
    /// The store named, if one is.
    pub fn open(&self) -> Result<Option<Arc<dyn ObjectStore>>, MediaError> {
        self.media_store.as_deref().map(open).transpose()
    }
}

/// Why `MEDIA_STORE` could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("MEDIA_STORE is not a URL: {0}")]
    Url(#[from] url::ParseError),
    #[error("MEDIA_STORE must be a file:// or s3:// URL, not {0}://")]
    Scheme(String),
    #[error("MEDIA_STORE's directory {path}: {source}")]
    Directory { path: String, source: std::io::Error },
    #[error("MEDIA_STORE: {0}")]
    Store(#[from] object_store::Error),
}

/// Opens the store `MEDIA_STORE` names.
pub fn open(url: &str) -> Result<Arc<dyn ObjectStore>, MediaError> {
    let parsed = url::Url::parse(url)?;
    match parsed.scheme() {
        "file" => {
            let dir = parsed.to_file_path().map_err(|()| MediaError::Scheme("file (not an absolute path)".into()))?;
            std::fs::create_dir_all(&dir)
                .map_err(|source| MediaError::Directory { path: dir.display().to_string(), source })?;
            Ok(Arc::new(LocalFileSystem::new_with_prefix(&dir)?))
        }
        "s3" => {
            let bucket = parsed.host_str().unwrap_or_default();
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            for (key, value) in parsed.query_pairs() {
                let key = format!("aws_{}", key.to_ascii_lowercase());
                builder = builder.with_config(key.parse()?, value);
            }
            let store = builder.build()?;
            let prefix = parsed.path().trim_matches('/');
            Ok(if prefix.is_empty() { Arc::new(store) } else { Arc::new(PrefixStore::new(store, prefix)) })
        }
        other => Err(MediaError::Scheme(other.to_string())),
    }
}

/// Where the copy of picture `id` that is `width` pixels wide is kept: `products/<id>/<width>.webp`.
pub fn picture_key(id: Uuid, width: u32) -> Path {
    Path::from(format!("products/{id}/{width}.webp"))
}

/// The key a `/media/` path names, if it is one a [`picture_key`] could make (a canonical UUID and a width);
/// anything else names nothing, so a request can never reach another object of the store.
pub fn parse_picture_path(path: &str) -> Option<Path> {
    let rest = path.strip_prefix("products/")?;
    let (id, file) = rest.split_once('/')?;
    let width = file.strip_suffix(".webp")?;
    let id = Uuid::try_parse(id).ok()?;
    let width: u32 = width.parse().ok().filter(|w| (1..=100_000).contains(w))?;
    let key = picture_key(id, width);
    (key.as_ref() == path).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_picture_keys_are_served() {
        let id = Uuid::now_v7();
        let key = picture_key(id, 640);
        assert_eq!(parse_picture_path(key.as_ref()), Some(key.clone()));
        for path in [
            "products/../secret/640.webp".to_string(),
            format!("products/{id}/640.png"),
            format!("products/{id}/0640.webp"),
            format!("products/{id}/+640.webp"),
            format!("products/{}/640.webp", id.to_string().to_uppercase()),
            format!("products/{id}/640.webp/x"),
            format!("other/{id}/640.webp"),
            format!("products/{id}/0.webp"),
            String::new(),
        ] {
            assert_eq!(parse_picture_path(&path), None, "{path}");
        }
    }

    #[test]
    fn stores_are_named_by_url() {
        let dir = std::env::temp_dir().join(format!("ec-media-{}", Uuid::now_v7()));
        let url = url::Url::from_directory_path(&dir).unwrap();
        assert!(open(url.as_str()).is_ok());
        assert!(dir.is_dir());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(open("gs://bucket"), Err(MediaError::Scheme(s)) if s == "gs"));
        assert!(matches!(open("not a url"), Err(MediaError::Url(_))));
        assert!(matches!(open("s3://bucket?no_such_option=1"), Err(MediaError::Store(_))));
        assert!(open("s3://bucket/shop?region=eu-west-1&endpoint=http://127.0.0.1:9&allow_http=true").is_ok());
    }
}
