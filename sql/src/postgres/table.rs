//! A PostgreSQL table or view as a DataFusion table, read by binary COPY.
//!
//! Each scan opens its own connection: one user's long scan never queues
//! behind another's on a shared connection, and dropping the scan (the time
//! limit, a closed HTTP request) closes the connection, which makes the
//! server abandon the query. Connections are read-only
//! (`default_transaction_read_only`) and carry a `statement_timeout`, so the
//! database enforces the time limit too. Projection, simple filters
//! ([`super::pushdown`]) and LIMIT are pushed into the `SELECT`.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use futures::{Stream, StreamExt, TryStreamExt};
use tokio_postgres::binary_copy::{BinaryCopyOutRow, BinaryCopyOutStream};
use tokio_postgres::{Client, NoTls};

use super::discover::Relation;
use super::pushdown::{quote_ident, to_sql};
use super::types::{ColumnBuilder, PgColumnType};
use crate::error::{Error, Result};

/// Opens read-only connections to one database.
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    config: tokio_postgres::Config,
}

impl Connector {
    /// From a `postgres://` URL or key=value string; `statement_timeout`
    /// in milliseconds (0 = none).
    pub(crate) fn new(url: &str, statement_timeout_ms: u128) -> Result<Self> {
        let mut config: tokio_postgres::Config = url.parse().map_err(Error::pg("parse the URL"))?;
        let mut options = config.get_options().unwrap_or_default().to_owned();
        options.push_str(&format!(
            " -c default_transaction_read_only=on -c standard_conforming_strings=on \
             -c statement_timeout={statement_timeout_ms}"
        ));
        config.options(options.trim_start());
        config.application_name("billabong-sql");
        Ok(Self { config })
    }

    /// A new connection; its driver task ends when the client is dropped.
    pub(crate) async fn connect(&self) -> Result<Client> {
        let (client, connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(Error::pg("connect"))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "PostgreSQL connection closed with an error.");
            }
        });
        Ok(client)
    }
}

/// One relation of `public`.
#[derive(Debug)]
pub(crate) struct PgTable {
    relation: Relation,
    schema: SchemaRef,
    connector: Arc<Connector>,
}

impl PgTable {
    pub(crate) fn new(relation: Relation, connector: Arc<Connector>) -> Self {
        let fields: Vec<Field> = relation
            .columns
            .iter()
            .map(|(name, ty, not_null)| Field::new(name, ty.arrow_type(), !not_null))
            .collect();
        Self {
            relation,
            schema: Arc::new(Schema::new(fields)),
            connector,
        }
    }

    fn columns(&self) -> Vec<(String, PgColumnType)> {
        self.relation
            .columns
            .iter()
            .map(|(n, t, _)| (n.clone(), *t))
            .collect()
    }
}

#[async_trait]
impl TableProvider for PgTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        match self.relation.kind {
            'v' | 'm' => TableType::View,
            _ => TableType::Base,
        }
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        let columns = self.columns();
        Ok(filters
            .iter()
            .map(|f| match to_sql(f, &columns) {
                Some(_) => TableProviderFilterPushDown::Inexact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let indices: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.relation.columns.len()).collect(),
        };
        let schema = Arc::new(self.schema.project(&indices)?);
        let picked: Vec<PgColumnType> = indices
            .iter()
            .map(|&i| self.relation.columns[i].1)
            .collect();
        let select: Vec<String> = indices
            .iter()
            .map(|&i| {
                let (name, ty, _) = &self.relation.columns[i];
                ty.select_expr(&quote_ident(name))
            })
            .collect();
        let columns = self.columns();
        let wheres: Vec<String> = filters.iter().filter_map(|f| to_sql(f, &columns)).collect();
        let mut query = format!(
            "COPY (SELECT {} FROM public.{}",
            select.join(", "),
            quote_ident(&self.relation.name)
        );
        if !wheres.is_empty() {
            query.push_str(&format!(" WHERE {}", wheres.join(" AND ")));
        }
        if let Some(n) = limit {
            query.push_str(&format!(" LIMIT {n}"));
        }
        query.push_str(") TO STDOUT (FORMAT binary)");
        tracing::debug!(table = %self.relation.name, %query, "PostgreSQL scan.");
        let scan = PgScan {
            schema: Arc::clone(&schema),
            types: picked,
            query,
            connector: Arc::clone(&self.connector),
        };
        let exec =
            StreamingTableExec::try_new(schema, vec![Arc::new(scan)], None, [], false, None)?;
        Ok(Arc::new(exec))
    }
}

/// The one partition of a PostgreSQL scan.
#[derive(Debug)]
struct PgScan {
    schema: SchemaRef,
    types: Vec<PgColumnType>,
    query: String,
    connector: Arc<Connector>,
}

impl PartitionStream for PgScan {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let batch_size = ctx.session_config().batch_size().max(1);
        let schema = Arc::clone(&self.schema);
        let types = self.types.clone();
        let query = self.query.clone();
        let connector = Arc::clone(&self.connector);
        let opened = async move {
            let client = connector.connect().await.map_err(external)?;
            let wire: Vec<_> = types.iter().map(|t| t.wire_type()).collect();
            let copy = client
                .copy_out(query.as_str())
                .await
                .map_err(|e| external(Error::pg("scan")(e)))?;
            let rows = BinaryCopyOutStream::new(copy, &wire);
            Ok::<_, DataFusionError>(batches(rows, client, schema, types, batch_size))
        };
        let stream = futures::stream::once(opened).try_flatten();
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        ))
    }
}

/// Rows grouped into record batches; holds `client` so the connection lives
/// exactly as long as the stream.
fn batches(
    rows: BinaryCopyOutStream,
    client: Client,
    schema: SchemaRef,
    types: Vec<PgColumnType>,
    batch_size: usize,
) -> impl Stream<Item = datafusion::error::Result<RecordBatch>> + Send {
    rows.chunks(batch_size).map(move |chunk| {
        let _connection = &client;
        to_batch(&schema, &types, chunk)
    })
}

fn to_batch(
    schema: &SchemaRef,
    types: &[PgColumnType],
    rows: Vec<std::result::Result<BinaryCopyOutRow, tokio_postgres::Error>>,
) -> datafusion::error::Result<RecordBatch> {
    let mut builders: Vec<ColumnBuilder> = types.iter().map(|t| ColumnBuilder::new(*t)).collect();
    let count = rows.len();
    for row in rows {
        let row = row.map_err(|e| external(Error::pg("scan")(e)))?;
        for (idx, builder) in builders.iter_mut().enumerate() {
            builder
                .append(&row, idx)
                .map_err(|e| external(Error::pg("decode a row")(e)))?;
        }
    }
    let arrays = builders.iter_mut().map(ColumnBuilder::finish).collect();
    let options = RecordBatchOptions::new().with_row_count(Some(count));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        arrays,
        &options,
    )?)
}

fn external(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}
