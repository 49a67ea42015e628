//! Resource limits: what keeps one hostile or careless query from taking the
//! machine (and, in `serving`, every other user's queries) down with it.
//!
//! - **Memory**: every query gets its own [`GreedyMemoryPool`] of
//!   [`Limits::memory_bytes`]. A per-query pool, not one shared pool, so that
//!   a query blowing its budget fails alone instead of starving the queries
//!   running beside it; [`Limits::max_concurrent`] bounds the total at
//!   `memory_bytes × max_concurrent`. Spilling to disk is off unless
//!   [`Limits::spill_bytes`] allows a bounded amount.
//! - **Time**: planning and execution run under [`tokio::time::timeout`];
//!   dropping the result stream on expiry cancels every operator task.
//! - **Rows**: at most [`Limits::max_rows`] rows are kept; the rest are
//!   counted (within the time left) so the user is told how many were cut.

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use futures::StreamExt;

use crate::error::{Error, Result};

/// Per-query limits. The defaults suit an interactive user on a shared
/// machine; the HTTP endpoint may want them smaller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Memory one query may reserve for joins, sorts and aggregations, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock time one statement may take, planning included.
    pub time: Duration,
    /// Rows returned at most; the rest are counted, not kept.
    pub max_rows: usize,
    /// Bytes a query may spill to the OS temporary directory; `0` = no spilling.
    pub spill_bytes: u64,
    /// Statements that may run at once in one session; others wait their turn.
    pub max_concurrent: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 1 << 30,
            time: Duration::from_secs(60),
            max_rows: 100_000,
            spill_bytes: 0,
            max_concurrent: 4,
        }
    }
}

/// How many rows a result lost to [`Limits::max_rows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    /// Rows the query produced in all (kept + cut), or at least this many
    /// when `exact` is false.
    pub total_rows: u64,
    /// False when the time limit ran out while counting the cut rows.
    pub exact: bool,
}

/// The result of one statement.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    /// Schema of the result (also when there are no rows).
    pub schema: SchemaRef,
    /// At most [`Limits::max_rows`] rows.
    pub batches: Vec<RecordBatch>,
    /// `Some` when rows were cut.
    pub truncated: Option<Truncation>,
    /// Wall-clock time from planning to the last row (or the count of the cut ones).
    pub elapsed: Duration,
}

impl QueryOutput {
    /// Rows kept in [`QueryOutput::batches`].
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

impl Limits {
    /// A runtime for one query: its own memory pool, the session's object
    /// stores, and no (or bounded) spilling.
    pub(crate) fn runtime(
        &self,
        stores: Arc<dyn ObjectStoreRegistry>,
    ) -> datafusion::error::Result<Arc<RuntimeEnv>> {
        // TrackConsumersPool names the operators holding the most memory in
        // its error, which tells the user which part of the query to change.
        let top_consumers = std::num::NonZeroUsize::new(3).expect("3 is not zero");
        let pool = TrackConsumersPool::new(GreedyMemoryPool::new(self.memory_bytes), top_consumers);
        let disk = if self.spill_bytes == 0 {
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled)
        } else {
            DiskManagerBuilder::default()
                .with_mode(DiskManagerMode::OsTmpDirectory)
                .with_max_temp_directory_size(self.spill_bytes)
        };
        RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(pool))
            .with_disk_manager_builder(disk)
            .with_object_store_registry(stores)
            .build_arc()
    }
}

/// Drains `stream` keeping at most `limits.max_rows` rows, until `deadline`.
///
/// Past the row limit the stream is still read, to count what was cut, but
/// only while time is left: running out then is not an error, the count is
/// just a lower bound.
pub(crate) async fn collect_limited(
    mut stream: SendableRecordBatchStream,
    limits: &Limits,
    deadline: tokio::time::Instant,
    started: Instant,
) -> Result<QueryOutput> {
    let schema = stream.schema();
    let mut batches = Vec::new();
    let mut kept = 0usize;
    let mut total = 0u64;
    let mut cut = false;
    loop {
        let next = match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(next) => next,
            Err(_) if cut => {
                return Ok(output(schema, batches, Some((total, false)), started));
            }
            Err(_) => return Err(Error::TimeLimit { limit: limits.time }),
        };
        let Some(batch) = next else { break };
        let batch = batch.map_err(|e| Error::from_datafusion(e, limits.memory_bytes))?;
        total += batch.num_rows() as u64;
        if cut {
            continue;
        }
        let room = limits.max_rows - kept;
        if batch.num_rows() > room {
            cut = true;
            if room > 0 {
                batches.push(batch.slice(0, room));
            }
            kept = limits.max_rows;
        } else {
            kept += batch.num_rows();
            batches.push(batch);
        }
    }
    let truncation = cut.then_some((total, true));
    Ok(output(schema, batches, truncation, started))
}

fn output(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    truncation: Option<(u64, bool)>,
    started: Instant,
) -> QueryOutput {
    QueryOutput {
        schema,
        batches,
        truncated: truncation.map(|(total_rows, exact)| Truncation { total_rows, exact }),
        elapsed: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;

    fn stream_of(sizes: &[usize]) -> SendableRecordBatchStream {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let batches: Vec<_> = sizes
            .iter()
            .map(|&n| {
                let values = Int64Array::from_iter_values(0..n as i64);
                Ok(
                    RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(values)])
                        .expect("one column of the schema's type"),
                )
            })
            .collect();
        Box::pin(RecordBatchStreamAdapter::new(
            schema,
            futures::stream::iter(batches),
        ))
    }

    async fn run(sizes: &[usize], max_rows: usize) -> QueryOutput {
        let limits = Limits {
            max_rows,
            ..Limits::default()
        };
        let deadline = tokio::time::Instant::now() + limits.time;
        collect_limited(stream_of(sizes), &limits, deadline, Instant::now())
            .await
            .expect("an in-memory stream does not fail")
    }

    #[tokio::test]
    async fn rows_past_the_limit_are_cut_and_counted() {
        let out = run(&[3, 4, 5], 5).await;
        assert_eq!(out.rows(), 5);
        assert_eq!(
            out.truncated,
            Some(Truncation {
                total_rows: 12,
                exact: true
            })
        );
    }

    #[tokio::test]
    async fn a_result_at_the_limit_is_not_truncated() {
        let out = run(&[3, 2], 5).await;
        assert_eq!(out.rows(), 5);
        assert_eq!(out.truncated, None);
        let out = run(&[], 5).await;
        assert_eq!(out.rows(), 0);
    }

    #[tokio::test]
    async fn a_limit_of_zero_keeps_only_the_schema() {
        let out = run(&[2, 2], 0).await;
        assert_eq!(out.rows(), 0);
        assert_eq!(out.truncated.map(|t| t.total_rows), Some(4));
        assert_eq!(out.schema.fields().len(), 1);
    }
}
