//! Where the lake lives: an object store plus a root prefix inside it.
//!
//! `s3://bucket/prefix` and `file:///path` open to the same thing — an
//! `Arc<dyn ObjectStore>` and a root [`Path`] — so that the writer, the reader
//! and compaction have one code path whatever the backend.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use url::Url;

use crate::error::{Error, Result};

/// An opened lake location.
#[derive(Debug, Clone)]
pub struct LakeLocation {
    /// The store, rooted at the bucket (S3) or at `/` (local filesystem).
    pub store: Arc<dyn ObjectStore>,
    /// The lake's prefix inside the store; every lake path is below it.
    pub root: Path,
    /// The store's URL without a path (`s3://bucket`, `file://`): what a query
    /// engine registers the store under.
    pub store_url: String,
}

impl LakeLocation {
    /// Opens `s3://bucket[/prefix]` (endpoint, keys, region, `AWS_ALLOW_HTTP`
    /// and `AWS_COPY_IF_NOT_EXISTS` from the usual `AWS_*` environment;
    /// path-style requests) or `file:///path` (created if missing).
    pub fn open(url: &str) -> Result<Self> {
        Self::open_with_options(url, &[])
    }

    /// Like [`LakeLocation::open`], with S3 settings (`aws_endpoint`,
    /// `aws_access_key_id`, ...; object_store's key names) that override the
    /// environment. Ignored for `file://`.
    pub fn open_with_options(url: &str, options: &[(String, String)]) -> Result<Self> {
        let bad = |reason: &str| Error::LakeUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let parsed = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        match parsed.scheme() {
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| bad("no bucket"))?;
                let mut builder = AmazonS3Builder::from_env();
                for (key, value) in options {
                    let key: AmazonS3ConfigKey = key
                        .parse()
                        .map_err(|e: object_store::Error| bad(&e.to_string()))?;
                    builder = builder.with_config(key, value);
                }
                let store = builder
                    .with_bucket_name(bucket)
                    .with_virtual_hosted_style_request(false)
                    .build()
                    .map_err(|e| bad(&e.to_string()))?;
                let root = Path::parse(parsed.path().trim_matches('/'))
                    .map_err(|e| bad(&e.to_string()))?;
                Ok(Self::new(Arc::new(store), root, format!("s3://{bucket}")))
            }
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|()| bad("not an absolute local path"))?;
                std::fs::create_dir_all(&dir).map_err(|e| bad(&e.to_string()))?;
                let dir = dir.canonicalize().map_err(|e| bad(&e.to_string()))?;
                let root = Path::from_absolute_path(&dir).map_err(|e| bad(&e.to_string()))?;
                Ok(Self::new(
                    Arc::new(LocalFileSystem::new()),
                    root,
                    "file://".to_owned(),
                ))
            }
            other => Err(bad(&format!(
                "scheme {other:?} is not supported: use s3:// or file://"
            ))),
        }
    }

    /// A location over an already built store (tests, embedded use).
    pub fn new(store: Arc<dyn ObjectStore>, root: Path, store_url: String) -> Self {
        Self {
            store,
            root,
            store_url,
        }
    }

    /// The store path of a lake-relative path (`raw/...`, `_commits/...`).
    pub fn path(&self, relative: &str) -> Path {
        let mut joined = self.root.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            joined = joined.join(part);
        }
        joined
    }

    /// The lake-relative form of a store path, if it lies under the root.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let parts: Vec<_> = path
            .prefix_match(&self.root)?
            .map(|p| p.as_ref().to_owned())
            .collect();
        Some(parts.join("/"))
    }

    /// A URL a query engine can read (`s3://bucket/root/raw/...`,
    /// `file:///root/raw/...`) for a lake-relative path.
    pub fn url(&self, relative: &str) -> String {
        format!("{}/{}", self.store_url, self.path(relative))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_open_below_their_directory() {
        let dir = std::env::temp_dir().join(format!("billabong-loc-{}", std::process::id()));
        let url = format!("file://{}", dir.display());
        let loc = LakeLocation::open(&url).expect("opens");
        let p = loc.path("raw/t/x.parquet");
        assert_eq!(loc.relative(&p).as_deref(), Some("raw/t/x.parquet"));
        assert!(loc.url("raw/t/x.parquet").starts_with("file:///"));
        assert!(LakeLocation::open("gs://x").is_err());
    }
}
