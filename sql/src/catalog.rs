//! The tables a session sees, registered once when it opens.
//!
//! - `lake.<name>`: every committed row of a raw topic ([`LakeTable`]), read
//!   through the batch layer's [`batch::lake_source`], so that `billabong sql`
//!   sees exactly what a batch run would: committed files only, compactions
//!   applied, no orphans. A snapshot taken at open; a new session sees newer
//!   commits.
//! - `<name>` (default schema): every table, view and materialized view of
//!   PostgreSQL's `public` schema, discovered at open ([`crate::postgres`]).
//!   So `rsvps` is the 3NF table and `lake.rsvps` the raw lake.
//!
//! The engine is built without the ways DataFusion has to reach arbitrary
//! files: no URL tables (`enable_url_table` is never called), table functions
//! cut down to [`ALLOWED_TABLE_FUNCTIONS`], and an object-store registry that
//! holds the lake's store and, unless the lake itself is on the local file
//! system, no `file://` store at all.

use std::sync::Arc;

use batch::lake_source::{Offsets, TopicSnapshot, table_after};
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider, TableProvider};
use datafusion::common::TableReference;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use sink::Lake;

use crate::config::{LakeTable, SqlConfig};
use crate::error::{Error, Result};
use crate::guard::ALLOWED_TABLE_FUNCTIONS;
use crate::limits::Limits;
use crate::postgres::{Connector, PgTable, relations};
use crate::struct_nulls::NullStructFields;
use crate::yield_rule::YieldEverywhere;

/// Name of the schema holding the raw lake tables.
pub const LAKE_SCHEMA: &str = "lake";

/// A built catalog: the template context every query's context copies, and
/// the object stores its runtimes share.
pub(crate) struct Catalog {
    pub(crate) base: SessionContext,
    pub(crate) stores: Arc<dyn ObjectStoreRegistry>,
}

/// Registers the configured sources in a new context.
pub(crate) async fn build(config: &SqlConfig) -> Result<Catalog> {
    let lake = match &config.lake {
        Some(url) => Some(Lake::open_with_options(url, &config.lake_options)?),
        None => None,
    };
    let stores = object_stores(lake.as_ref())?;
    let base = base_context(&config.limits, Arc::clone(&stores))?;
    if let Some(lake) = &lake {
        register_lake(&base, lake, &config.lake_tables).await?;
    }
    if let Some(url) = &config.postgres {
        register_postgres(&base, url, &config.limits).await?;
    }
    Ok(Catalog { base, stores })
}

/// Only the lake's store; `file://` only when the lake is a local directory.
fn object_stores(lake: Option<&Lake>) -> Result<Arc<dyn ObjectStoreRegistry>> {
    let registry = DefaultObjectStoreRegistry::new();
    let file_url = url_of("file://")?;
    let lake_is_local = lake.is_some_and(|l| l.location().store_url == "file://");
    if !lake_is_local {
        registry.deregister_store(&file_url).map_err(Error::Setup)?;
    }
    if let Some(lake) = lake {
        let loc = lake.location();
        registry.register_store(&url_of(&loc.store_url)?, Arc::clone(&loc.store));
    }
    Ok(Arc::new(registry))
}

fn url_of(text: &str) -> Result<url::Url> {
    url::Url::parse(text).map_err(|e| Error::Internal(format!("store URL {text:?}: {e}")))
}

/// The template context: information_schema on (for SHOW TABLES and `\d`),
/// strings as `Utf8` like the batch layer, limited runtime, operators that
/// yield ([`YieldEverywhere`]), and only the harmless table functions.
fn base_context(limits: &Limits, stores: Arc<dyn ObjectStoreRegistry>) -> Result<SessionContext> {
    let config = SessionConfig::new()
        .with_information_schema(true)
        .set_bool(
            "datafusion.execution.parquet.schema_force_view_types",
            false,
        )
        .set_bool("datafusion.execution.parquet.pushdown_filters", true);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(limits.runtime(stores).map_err(Error::Setup)?)
        .with_default_features()
        .with_analyzer_rule(Arc::new(NullStructFields))
        .with_physical_optimizer_rule(Arc::new(YieldEverywhere))
        .build();
    let ctx = SessionContext::new_with_state(state);
    let names: Vec<String> = ctx.state().table_functions().keys().cloned().collect();
    for name in names {
        if !ALLOWED_TABLE_FUNCTIONS.contains(&name.as_str()) {
            tracing::debug!(function = %name, "Table function removed.");
            ctx.deregister_udtf(&name);
        }
    }
    Ok(ctx)
}

async fn register_lake(ctx: &SessionContext, lake: &Lake, tables: &[LakeTable]) -> Result<()> {
    let schema = Arc::new(MemorySchemaProvider::new());
    for table in tables {
        let snapshot = TopicSnapshot::take(lake, &table.topic, table.feed).await?;
        tracing::info!(
            table = %format!("{LAKE_SCHEMA}.{}", table.name),
            topic = %table.topic,
            files = snapshot.files.len(),
            "Lake table registered."
        );
        let provider = table_after(ctx, &snapshot, &Offsets::new()).await?;
        schema
            .register_table(table.name.clone(), provider)
            .map_err(Error::Setup)?;
    }
    let catalog = ctx
        .catalog(&ctx.state().config().options().catalog.default_catalog)
        .ok_or_else(|| Error::Internal("the default catalog is missing".to_owned()))?;
    catalog
        .register_schema(LAKE_SCHEMA, schema)
        .map_err(Error::Setup)?;
    Ok(())
}

async fn register_postgres(ctx: &SessionContext, url: &str, limits: &Limits) -> Result<()> {
    let connector = Arc::new(Connector::new(url, limits.time.as_millis())?);
    let client = connector.connect().await?;
    let found = relations(&client).await?;
    tracing::info!(relations = found.len(), "PostgreSQL tables registered.");
    for relation in found {
        let name = relation.name.clone();
        let table: Arc<dyn TableProvider> =
            Arc::new(PgTable::new(relation, Arc::clone(&connector)));
        // `bare`: a name is one identifier, kept as PostgreSQL spells it,
        // never parsed as `schema.table` or lower-cased.
        ctx.register_table(TableReference::bare(name), table)
            .map_err(Error::Setup)?;
    }
    Ok(())
}
