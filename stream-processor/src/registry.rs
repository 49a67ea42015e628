//! The served model: reads the batch layer's model registry in the lake and
//! hands each new version of the RSVP response model to the processing loop.
//!
//! ```text
//! models/rsvp-response/latest              "3" (forward-only pointer)
//! models/rsvp-response/v000003/model.json  schemas::model::Artifact
//! ```
//!
//! The paths and the artifact format are `schemas::model`'s, so this crate
//! does not depend on the batch crate. A background task reads the pointer
//! every `poll_interval`; when it names another version, that artifact is
//! loaded, checked (`Artifact::from_json`, kind `rsvp_response`) and sent
//! through a `watch` channel. The loop applies it between two records (see
//! `rsvp/predict.rs`). Nothing here stops the stream: no `--lake`, no pointer
//! yet, an unreachable store or a broken artifact all leave the current model
//! (or none) in place, with a log line and `billabong_stream_model_load_errors_total`.
//! Only a lake URL that cannot be opened at all is a configuration error.

use std::sync::Arc;

use object_store::ObjectStoreExt;
use object_store::path::Path;
use schemas::model::{
    Artifact, ModelError, RSVP_RESPONSE_MODEL, RsvpResponseModel, model_latest_path,
    model_version_path,
};
use sink::LakeLocation;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::metrics;

/// One version of the RSVP response model, as served.
#[derive(Debug)]
pub(crate) struct ServedModel {
    /// The registry version (from 1).
    pub(crate) version: u32,
    /// The artifact.
    pub(crate) model: RsvpResponseModel,
}

/// The model the loop should use now; `None` until one is published.
pub(crate) type ModelReceiver = watch::Receiver<Option<Arc<ServedModel>>>;

/// Why one poll of the registry failed (logged; the stream goes on).
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    /// The object store failed.
    #[error("reading {path}: {source}")]
    Store {
        /// The object.
        path: Path,
        /// The store's error.
        source: object_store::Error,
    },
    /// The pointer does not hold a version number.
    #[error("{path} does not hold a version number: {text:?}")]
    Pointer {
        /// The pointer object.
        path: Path,
        /// What it holds (truncated).
        text: String,
    },
    /// The pointer names a version whose artifact does not exist.
    #[error("{path} does not exist, but `latest` points at it")]
    Missing {
        /// The artifact path.
        path: Path,
    },
    /// The artifact is unusable.
    #[error("{path}: {source}")]
    Artifact {
        /// The artifact path.
        path: Path,
        /// Why.
        source: ModelError,
    },
    /// The artifact is another kind of model.
    #[error("{path} holds a {found} model, not {RSVP_RESPONSE_MODEL}")]
    Kind {
        /// The artifact path.
        path: Path,
        /// Its registry name.
        found: &'static str,
    },
}

/// The registry of one lake.
struct Registry {
    lake: LakeLocation,
}

impl Registry {
    fn open(url: &str, options: &[(String, String)]) -> Result<Self> {
        let lake = LakeLocation::open_with_options(url, options).map_err(|e| Error::ModelLake {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Registry { lake })
    }

    /// The version `latest` names; `None` when nothing was published.
    async fn latest_version(&self) -> Result<Option<u32>, LoadError> {
        let path = self.lake.path(&model_latest_path(RSVP_RESPONSE_MODEL));
        let bytes = match self.lake.store.get(&path).await {
            Ok(got) => got.bytes().await,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(source) => Err(source),
        }
        .map_err(|source| LoadError::Store {
            path: path.clone(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        match text.trim().parse::<u32>() {
            Ok(version) => Ok(Some(version)),
            Err(_) => Err(LoadError::Pointer {
                path,
                text: text.chars().take(40).collect(),
            }),
        }
    }

    /// Loads and checks one version.
    async fn load(&self, version: u32) -> Result<ServedModel, LoadError> {
        let path = self
            .lake
            .path(&model_version_path(RSVP_RESPONSE_MODEL, version));
        let bytes = match self.lake.store.get(&path).await {
            Ok(got) => got.bytes().await,
            Err(object_store::Error::NotFound { .. }) => return Err(LoadError::Missing { path }),
            Err(source) => Err(source),
        }
        .map_err(|source| LoadError::Store {
            path: path.clone(),
            source,
        })?;
        match Artifact::from_json(&bytes) {
            Ok(Artifact::RsvpResponse(model)) => Ok(ServedModel { version, model }),
            Ok(other) => Err(LoadError::Kind {
                path,
                found: other.name(),
            }),
            Err(source) => Err(LoadError::Artifact { path, source }),
        }
    }

    /// One poll: the newest model when it differs from `current`.
    async fn poll(&self, current: u32) -> Result<Option<ServedModel>, LoadError> {
        match self.latest_version().await? {
            Some(version) if version != current => self.load(version).await.map(Some),
            _ => Ok(None),
        }
    }
}

/// The model feed of a run: the receiver for the loop, and the polling task
/// (aborted when the run ends).
pub(crate) struct ModelFeed {
    pub(crate) receiver: ModelReceiver,
    pub(crate) task: Option<JoinHandle<()>>,
}

/// Opens the registry, loads the newest model before the first record is
/// read (so a model published before the start scores every record), and
/// starts polling. Without a lake: a receiver that never changes.
pub(crate) async fn start(config: &ModelConfig) -> Result<ModelFeed> {
    metrics::record_model_version(0);
    let Some(url) = config.lake.as_deref() else {
        tracing::info!("No model registry (--lake): RSVPs are not scored.");
        let (_, receiver) = watch::channel(None);
        return Ok(ModelFeed {
            receiver,
            task: None,
        });
    };
    let registry = Registry::open(url, &config.storage_options)?;
    let (sender, receiver) = watch::channel(None);
    let mut state = PollState::default();
    poll_once(&registry, &sender, &mut state).await;
    if state.current == 0 {
        tracing::info!(
            lake = url,
            model = RSVP_RESPONSE_MODEL,
            "No model published yet; RSVPs are scored once one is."
        );
    }
    let interval = config.poll_interval;
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            poll_once(&registry, &sender, &mut state).await;
        }
    });
    Ok(ModelFeed {
        receiver,
        task: Some(task),
    })
}

/// What the polling task remembers between polls.
#[derive(Debug, Default)]
struct PollState {
    /// The version served (0: none).
    current: u32,
    /// The last failure, so that a lasting one is logged once, not per poll.
    last_error: Option<String>,
}

/// Polls once; sends a new model, or logs why none could be read.
async fn poll_once(
    registry: &Registry,
    sender: &watch::Sender<Option<Arc<ServedModel>>>,
    state: &mut PollState,
) {
    match registry.poll(state.current).await {
        Ok(Some(served)) => {
            state.last_error = None;
            tracing::info!(
                model = RSVP_RESPONSE_MODEL,
                from = state.current,
                to = served.version,
                trained_at_ms = served.model.training.trained_at_ms,
                "Serving a new model version."
            );
            state.current = served.version;
            metrics::record_model_version(served.version);
            sender.send_replace(Some(Arc::new(served)));
        }
        Ok(None) => state.last_error = None,
        Err(error) => {
            metrics::record_model_load_error();
            let text = error.to_string();
            if state.last_error.as_ref() != Some(&text) {
                tracing::warn!(%error, serving = state.current, "Cannot read the model registry; keeping the current model (logged again when the error changes).");
                state.last_error = Some(text);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use object_store::{PutMode, PutOptions, PutPayload};

    fn lake_dir(name: &str) -> String {
        let dir = std::env::temp_dir().join(format!(
            "billabong-stream-registry-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        format!("file://{}", dir.display())
    }

    async fn put(lake: &LakeLocation, relative: &str, body: &str) {
        let opts = PutOptions {
            mode: PutMode::Overwrite,
            ..PutOptions::default()
        };
        lake.store
            .put_opts(
                &lake.path(relative),
                PutPayload::from(body.to_owned()),
                opts,
            )
            .await
            .expect("put");
    }

    #[tokio::test]
    async fn an_empty_registry_serves_no_model_and_a_broken_pointer_is_not_fatal() {
        let url = lake_dir("empty");
        let config = ModelConfig {
            lake: Some(url.clone()),
            storage_options: Vec::new(),
            poll_interval: Duration::from_secs(3_600),
        };
        let feed = start(&config).await.expect("an empty registry is fine");
        assert!(feed.receiver.borrow().is_none());
        let registry = Registry::open(&url, &[]).expect("opens");
        put(
            &registry.lake,
            &model_latest_path(RSVP_RESPONSE_MODEL),
            "three",
        )
        .await;
        assert!(matches!(
            registry.poll(0).await,
            Err(LoadError::Pointer { .. })
        ));
        put(&registry.lake, &model_latest_path(RSVP_RESPONSE_MODEL), "3").await;
        assert!(matches!(
            registry.poll(0).await,
            Err(LoadError::Missing { .. })
        ));
        put(
            &registry.lake,
            &model_version_path(RSVP_RESPONSE_MODEL, 3),
            "{}",
        )
        .await;
        assert!(matches!(
            registry.poll(0).await,
            Err(LoadError::Artifact { .. })
        ));
        assert!(matches!(registry.poll(3).await, Ok(None)));
        if let Some(task) = feed.task {
            task.abort();
        }
    }

    #[test]
    fn an_unsupported_lake_url_is_a_configuration_error() {
        assert!(matches!(
            Registry::open("gs://bucket/x", &[]),
            Err(Error::ModelLake { .. })
        ));
    }
}
