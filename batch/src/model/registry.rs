//! The model registry: versioned artifacts in the lake's object store.
//!
//! ```text
//! models/<name>/v000001/model.json   create-only, never rewritten
//! models/<name>/latest               the newest version's number, e.g. "3"
//! ```
//!
//! A version is created with `PutMode::Create`, so two trainers racing for
//! the same number cannot overwrite each other: the loser takes the next
//! number. The pointer is written only after its artifact exists (a reader
//! following it never finds nothing), and only forwards: it is replaced with
//! a conditional put on the ETag it was read with, and left alone when it
//! already names a newer version. No key is a prefix of another (versitygw
//! refuses that). The paths are `schemas::model`'s, so that the speed layer
//! finds the models without depending on this crate.

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use schemas::model::{Artifact, MODELS_ROOT, model_latest_path, model_version_path};
use serde::Serialize;
use sink::{Lake, LakeLocation};

use crate::error::{Error, Result};

/// Attempts at creating a version or moving the pointer before giving up.
const MAX_ATTEMPTS: u32 = 100;

/// Where a saved artifact went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SavedModel {
    /// Registry name.
    pub name: String,
    /// Version number, from 1.
    pub version: u32,
    /// Lake-relative path of the artifact.
    pub path: String,
}

fn store_err(op: &str, path: &Path, e: object_store::Error) -> Error {
    Error::Model(format!("{op} {path}: {e}"))
}

/// Stores `artifact` as the next version of its model and points `latest` at it.
pub async fn save(lake: &Lake, artifact: &Artifact) -> Result<SavedModel> {
    let loc = lake.location();
    let name = artifact.name();
    let body = Bytes::from(artifact.to_json());
    let mut version = newest_listed(loc, name).await? + 1;
    for _ in 0..MAX_ATTEMPTS {
        let relative = model_version_path(name, version);
        let path = loc.path(&relative);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match loc
            .store
            .put_opts(&path, PutPayload::from(body.clone()), opts)
            .await
        {
            Ok(_) => {
                advance_latest(loc, name, version).await?;
                tracing::info!(model = name, version, %path, "Saved a model version.");
                return Ok(SavedModel {
                    name: name.to_owned(),
                    version,
                    path: relative,
                });
            }
            Err(object_store::Error::AlreadyExists { .. }) => version += 1,
            Err(e) => return Err(store_err("create", &path, e)),
        }
    }
    Err(Error::Model(format!(
        "{name}: no free version after {MAX_ATTEMPTS} attempts"
    )))
}

/// The highest `vNNNNNN` folder of `name` (0 when none).
async fn newest_listed(loc: &LakeLocation, name: &str) -> Result<u32> {
    let prefix = loc.path(&format!("{MODELS_ROOT}/{name}"));
    let listing = loc
        .store
        .list_with_delimiter(Some(&prefix))
        .await
        .map_err(|e| store_err("list", &prefix, e))?;
    Ok(listing
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename()?.strip_prefix('v')?.parse::<u32>().ok())
        .max()
        .unwrap_or(0))
}

/// The version `latest` names, with what a conditional replace needs.
async fn read_latest(loc: &LakeLocation, name: &str) -> Result<Option<(u32, UpdateVersion)>> {
    let path = loc.path(&model_latest_path(name));
    let got = match loc.store.get(&path).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(store_err("get", &path, e)),
    };
    let update = UpdateVersion {
        e_tag: got.meta.e_tag.clone(),
        version: got.meta.version.clone(),
    };
    let bytes = got.bytes().await.map_err(|e| store_err("get", &path, e))?;
    let version = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .ok_or_else(|| Error::Model(format!("{path} does not hold a version number")))?;
    Ok(Some((version, update)))
}

/// Points `latest` at `version` unless it names a newer one already.
async fn advance_latest(loc: &LakeLocation, name: &str, version: u32) -> Result<()> {
    let path = loc.path(&model_latest_path(name));
    for _ in 0..MAX_ATTEMPTS {
        let mode = match read_latest(loc, name).await? {
            Some((current, _)) if current >= version => return Ok(()),
            Some((_, update)) => PutMode::Update(update),
            None => PutMode::Create,
        };
        let opts = PutOptions {
            mode,
            ..PutOptions::default()
        };
        let body = PutPayload::from(Bytes::from(version.to_string()));
        match loc.store.put_opts(&path, body, opts).await {
            Ok(_) => return Ok(()),
            // Another trainer moved it between our read and write: look again.
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => continue,
            Err(e) => return Err(store_err("put", &path, e)),
        }
    }
    Err(Error::Model(format!(
        "{path}: could not move the pointer after {MAX_ATTEMPTS} attempts"
    )))
}

/// The version `latest` points at, if any model `name` was saved.
pub async fn latest_version(lake: &Lake, name: &str) -> Result<Option<u32>> {
    Ok(read_latest(lake.location(), name).await?.map(|(v, _)| v))
}

/// One version of a model; `None` when it does not exist.
pub async fn load_version(lake: &Lake, name: &str, version: u32) -> Result<Option<Artifact>> {
    let loc = lake.location();
    let path = loc.path(&model_version_path(name, version));
    let bytes = match loc.store.get(&path).await {
        Ok(got) => got.bytes().await.map_err(|e| store_err("get", &path, e))?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(store_err("get", &path, e)),
    };
    let artifact = Artifact::from_json(&bytes).map_err(|e| Error::Model(format!("{path}: {e}")))?;
    if artifact.name() != name {
        return Err(Error::Model(format!(
            "{path} holds a {} model, not {name}",
            artifact.name()
        )));
    }
    Ok(Some(artifact))
}

/// The version `latest` points at; `None` when no model `name` was saved.
pub async fn load_latest(lake: &Lake, name: &str) -> Result<Option<Artifact>> {
    let Some(version) = latest_version(lake, name).await? else {
        return Ok(None);
    };
    match load_version(lake, name, version).await? {
        Some(artifact) => Ok(Some(artifact)),
        None => Err(Error::Model(format!(
            "{}: points at version {version}, which does not exist",
            model_latest_path(name)
        ))),
    }
}
