//! The dashboard: `/` and `/assets/...`, every byte compiled into the
//! binary so the page works offline and a deployment is one file.
//!
//! plotly.js and its world topojson come from npm, vendored under
//! `serving/assets/vendor/` by `scripts/vendor-assets.sh` (pinned by
//! `scripts/vendor/package-lock.json`); the page's own HTML, JS and CSS are
//! beside them. Vendored files live under versioned URLs and are cached
//! for a year (`immutable`); the page's files are revalidated by ETag on
//! every load, so a new binary shows its new page at once.
//!
//! Text assets are gzip-compressed once, on a background thread at start-up
//! (plotly.js: 4.8 MB → about 1.5 MB); until that is done, or when the
//! client does not accept gzip, they go out uncompressed.

use std::sync::OnceLock;

use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use warp::Filter;
use warp::http::StatusCode;
use warp::http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, VARY};
use warp::reply::{Reply, Response};

/// The plotly.js version in `serving/assets/vendor/` (part of its URLs).
const PLOTLY_VERSION: &str = "4.1.1";

/// How a response may be cached.
#[derive(Debug, Clone, Copy)]
enum Caching {
    /// Versioned URL: never changes.
    Immutable,
    /// Revalidate by ETag on every use.
    Revalidate,
}

/// One compiled-in file.
struct Asset {
    /// The URL path below `/` (no leading slash).
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    caching: Caching,
    gzip: OnceLock<Vec<u8>>,
    etag: OnceLock<String>,
}

impl Asset {
    const fn new(
        path: &'static str,
        content_type: &'static str,
        body: &'static [u8],
        caching: Caching,
    ) -> Self {
        Asset {
            path,
            content_type,
            body,
            caching,
            gzip: OnceLock::new(),
            etag: OnceLock::new(),
        }
    }

    /// A strong ETag: FNV-1a of the bytes (the binary never changes them
    /// while it runs, so no stability across builds is needed).
    fn etag(&self) -> &str {
        self.etag.get_or_init(|| {
            let hash = self.body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            });
            format!("\"{hash:016x}\"")
        })
    }

    fn compress(&self) {
        self.gzip.get_or_init(|| {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
            // Writing to a Vec cannot fail.
            let _ = encoder.write_all(self.body);
            encoder.finish().unwrap_or_default()
        });
    }
}

static ASSETS: [Asset; 6] = [
    Asset::new(
        "",
        "text/html; charset=utf-8",
        include_bytes!("../assets/index.html"),
        Caching::Revalidate,
    ),
    Asset::new(
        "assets/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
        Caching::Revalidate,
    ),
    Asset::new(
        "assets/app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
        Caching::Revalidate,
    ),
    Asset::new(
        "assets/plotly-4.1.1.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/plotly.min.js"),
        Caching::Immutable,
    ),
    Asset::new(
        "assets/topojson-4.1.1/world_110m.json",
        "application/json",
        include_bytes!("../assets/vendor/world_110m.json"),
        Caching::Immutable,
    ),
    Asset::new(
        "assets/plotly-4.1.1.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../assets/vendor/plotly.LICENSE"),
        Caching::Immutable,
    ),
];

/// Compresses every asset on a background thread (a debug build's deflate
/// takes seconds for plotly.js; requests meanwhile are served uncompressed).
pub(crate) fn warm_up() {
    debug_assert!(ASSETS[3].path.contains(PLOTLY_VERSION));
    let spawned = std::thread::Builder::new()
        .name("serve-gzip".into())
        .spawn(|| {
            for asset in &ASSETS {
                asset.etag();
                asset.compress();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "Cannot compress the dashboard assets; serving them uncompressed.");
    }
}

fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|v| {
        v.split(',').any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            name.eq_ignore_ascii_case("gzip") && !refused
        })
    })
}

fn respond(
    asset: &'static Asset,
    accept_encoding: Option<&str>,
    if_none_match: Option<&str>,
) -> Response {
    let etag = asset.etag();
    let mut response =
        if if_none_match.is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag)) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            match asset.gzip.get().filter(|_| accepts_gzip(accept_encoding)) {
                Some(gzip) => {
                    let mut r = gzip.as_slice().into_response();
                    r.headers_mut().insert(
                        CONTENT_ENCODING,
                        "gzip".parse().expect("a valid header value"),
                    );
                    r
                }
                None => asset.body.into_response(),
            }
        };
    let headers = response.headers_mut();
    let cache = match asset.caching {
        Caching::Immutable => "public, max-age=31536000, immutable",
        Caching::Revalidate => "no-cache",
    };
    for (name, value) in [
        (CONTENT_TYPE, asset.content_type),
        (CACHE_CONTROL, cache),
        (VARY, "accept-encoding"),
        (ETAG, etag),
    ] {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    response
}

/// `GET /` and `GET /assets/...`.
pub(crate) fn routes()
-> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    warp::path::full()
        .and(warp::header::optional::<String>("accept-encoding"))
        .and(warp::header::optional::<String>("if-none-match"))
        .and_then(
            |path: warp::path::FullPath, encoding: Option<String>, etag: Option<String>| async move {
                let wanted = path.as_str().trim_start_matches('/');
                match ASSETS.iter().find(|a| a.path == wanted) {
                    Some(asset) => Ok(respond(asset, encoding.as_deref(), etag.as_deref())),
                    None => Err(warp::reject::not_found()),
                }
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_chosen_only_when_accepted() {
        assert!(accepts_gzip(Some("gzip, deflate, br")));
        assert!(accepts_gzip(Some("br;q=1.0, GZIP;q=0.5")));
        assert!(!accepts_gzip(Some("gzip;q=0, br")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(None));
    }

    #[tokio::test]
    async fn assets_have_types_caching_and_compression() {
        let routes = routes();
        let page = warp::test::request().path("/").reply(&routes).await;
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(page.headers()[CACHE_CONTROL], "no-cache");
        let etag = page.headers()[ETAG].to_str().expect("ascii").to_owned();
        let again = warp::test::request()
            .path("/")
            .header("if-none-match", &etag)
            .reply(&routes)
            .await;
        assert_eq!(again.status(), 304);

        let plotly = "/assets/plotly-4.1.1.min.js";
        ASSETS[3].compress();
        let plain = warp::test::request().path(plotly).reply(&routes).await;
        assert_eq!(plain.body().len(), ASSETS[3].body.len());
        assert!(plain.headers().get(CONTENT_ENCODING).is_none());
        let gz = warp::test::request()
            .path(plotly)
            .header("accept-encoding", "gzip")
            .reply(&routes)
            .await;
        assert_eq!(gz.headers()[CONTENT_ENCODING], "gzip");
        assert!(gz.body().len() * 2 < plain.body().len(), "compressed");
        assert!(
            gz.headers()[CACHE_CONTROL]
                .to_str()
                .expect("ascii")
                .contains("immutable")
        );
        let missing = warp::test::request()
            .path("/assets/nope.js")
            .reply(&routes)
            .await;
        assert_eq!(missing.status(), 404);
    }
}
