//! Makes a field of a NULL struct read as NULL.
//!
//! DataFusion 55's `get_field` (`venue['venue_id']`) returns the child array
//! as stored, ignoring the struct's own nulls, and the Parquet reader leaves
//! arbitrary values under a null struct: on the real RSVP lake, RSVPs without
//! a venue showed other rows' venue ids (apache/datafusion#25120, fixed after
//! 55). This analyzer rule rewrites every `get_field(s, name)` into
//! `CASE WHEN s IS NOT NULL THEN get_field(s, name) END`, which is what the
//! SQL means. Nested access is rewritten level by level, so `a['b']['c']` is
//! NULL when `a` or `a['b']` is.

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{Expr, LogicalPlan, when};
use datafusion::optimizer::AnalyzerRule;

/// The rule; runs after DataFusion's own analyzer rules (type coercion).
#[derive(Debug, Default)]
pub(crate) struct NullStructFields;

impl AnalyzerRule for NullStructFields {
    fn analyze(
        &self,
        plan: LogicalPlan,
        _config: &ConfigOptions,
    ) -> datafusion::error::Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            // Rewritten expressions keep their names: parent nodes refer to
            // columns by the child's expression names.
            let names = NamePreserver::new(&node);
            node.map_expressions(|expr| {
                let name = names.save(&expr);
                let rewritten = expr.transform_up(|e| match &e {
                    Expr::ScalarFunction(f) if f.func.name() == "get_field" => {
                        let Some(parent) = f.args.first().cloned() else {
                            return Ok(Transformed::no(e));
                        };
                        let guarded = when(parent.is_not_null(), e).end()?;
                        Ok(Transformed::yes(guarded))
                    }
                    _ => Ok(Transformed::no(e)),
                })?;
                Ok(rewritten.update_data(|e| name.restore(e)))
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "null_struct_fields"
    }
}
