//! Makes every operator give the thread back, so that the time limit can fire.
//!
//! DataFusion's own `EnsureCooperative` rule wraps only the leaves of a plan
//! in a `CooperativeExec`, which spends tokio's task budget per batch. An
//! operator that emits far more than it reads never touches a leaf while it
//! works: a cross join of three 1,541-row tables computes 3.6 billion rows
//! from a few reads, and measured here its query held the thread for 90 s
//! while a 2 s timeout waited to be polled. Wrapping every inner operator's
//! output too makes each of its batches spend budget: the task yields every
//! few batches, the timeout is checked, and dropping the stream stops the
//! query. The cost is one budget check per batch per operator.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coop::CooperativeExec;

/// Wraps every non-leaf operator (leaves are DataFusion's job) in a
/// [`CooperativeExec`]; runs last, after every rule that rewrites the plan.
#[derive(Debug, Default)]
pub(crate) struct YieldEverywhere;

impl PhysicalOptimizerRule for YieldEverywhere {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let inner = !node.children().is_empty();
            let wrapped = node.as_ref().downcast_ref::<CooperativeExec>().is_some();
            if inner && !wrapped {
                Ok(Transformed::yes(
                    Arc::new(CooperativeExec::new(node)) as Arc<dyn ExecutionPlan>
                ))
            } else {
                Ok(Transformed::no(node))
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "billabong_yield_everywhere"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
