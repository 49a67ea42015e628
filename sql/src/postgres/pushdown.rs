//! Filters DataFusion may hand to PostgreSQL, rendered as SQL.
//!
//! Only what renders with the same meaning on both sides: `col op literal`
//! for integers, `col = literal` for floats, `=` / `<>` for booleans and text
//! (ordering of text depends on PostgreSQL's collation, equality does not), `IS [NOT] NULL`, and `AND` of
//! those. Every pushed filter is reported `Inexact`, so DataFusion applies it
//! again: a pushed filter can only cut rows that DataFusion would cut anyway,
//! never change a result. Literals are rendered from typed values (numbers
//! formatted by Rust, strings with quotes doubled under
//! `standard_conforming_strings=on`, which the connection sets), never
//! spliced from user text.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

use super::types::PgColumnType;

/// A column of the table: its name and how it is read.
pub(crate) type Columns = [(String, PgColumnType)];

/// `"name"` with embedded quotes doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The SQL of `expr`, or `None` when it cannot be pushed.
pub(crate) fn to_sql(expr: &Expr, columns: &Columns) -> Option<String> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if *op == Operator::And => Some(format!(
            "({} AND {})",
            to_sql(left, columns)?,
            to_sql(right, columns)?
        )),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => comparison(left, *op, right, columns)
            .or_else(|| comparison(right, op.swap()?, left, columns)),
        Expr::IsNull(inner) => Some(format!("{} IS NULL", column(inner, columns)?.0)),
        Expr::IsNotNull(inner) => Some(format!("{} IS NOT NULL", column(inner, columns)?.0)),
        _ => None,
    }
}

/// `column op literal`, when the column's type and the literal agree.
fn comparison(left: &Expr, op: Operator, right: &Expr, columns: &Columns) -> Option<String> {
    let (col, ty) = column(left, columns)?;
    let Expr::Literal(value, _) = right else {
        return None;
    };
    let sql_op = match op {
        Operator::Eq => "=",
        Operator::NotEq => "<>",
        Operator::Lt => "<",
        Operator::LtEq => "<=",
        Operator::Gt => ">",
        Operator::GtEq => ">=",
        _ => return None,
    };
    let literal = literal(value, ty)?;
    // Ordering only on integers: text order depends on PostgreSQL's
    // collation, and Arrow orders floats totally (-0.0 < 0.0, -0.0 <> 0.0)
    // where PostgreSQL does not, so either could cut a row DataFusion keeps.
    // Float `=` is safe: PostgreSQL then keeps a superset.
    let integer = matches!(
        ty,
        PgColumnType::Int16 | PgColumnType::Int32 | PgColumnType::Int64
    );
    let float = matches!(
        ty,
        PgColumnType::Float32 | PgColumnType::Float64 | PgColumnType::Numeric
    );
    let safe = match op {
        Operator::Eq => true,
        Operator::NotEq => !float,
        _ => integer,
    };
    if !safe {
        return None;
    }
    Some(format!("{col} {sql_op} {literal}"))
}

/// The quoted column and its type, for a plain column reference.
fn column(expr: &Expr, columns: &Columns) -> Option<(String, PgColumnType)> {
    let Expr::Column(c) = expr else { return None };
    columns
        .iter()
        .find(|(name, _)| *name == c.name)
        .map(|(name, ty)| (quote_ident(name), *ty))
}

/// A literal of a type that compares the same way in PostgreSQL as in Arrow.
fn literal(value: &ScalarValue, ty: PgColumnType) -> Option<String> {
    use PgColumnType as T;
    let numeric = matches!(
        ty,
        T::Int16 | T::Int32 | T::Int64 | T::Float32 | T::Float64 | T::Numeric
    );
    match value {
        ScalarValue::Int8(Some(v)) if numeric => Some(v.to_string()),
        ScalarValue::Int16(Some(v)) if numeric => Some(v.to_string()),
        ScalarValue::Int32(Some(v)) if numeric => Some(v.to_string()),
        ScalarValue::Int64(Some(v)) if numeric => Some(v.to_string()),
        ScalarValue::UInt8(Some(v)) if numeric => Some(v.to_string()),
        ScalarValue::UInt16(Some(v)) if numeric => Some(v.to_string()),
        ScalarValue::UInt32(Some(v)) if numeric => Some(v.to_string()),
        ScalarValue::UInt64(Some(v)) if numeric => Some(v.to_string()),
        // Floats only against float columns: 0.1 means a different number
        // against numeric, and NaN/inf have no portable literal.
        ScalarValue::Float64(Some(v)) if matches!(ty, T::Float64) && v.is_finite() => {
            Some(format!("{v:?}::float8"))
        }
        ScalarValue::Boolean(Some(v)) if ty == T::Bool => Some(v.to_string()),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
            if ty == T::Text && !s.contains('\0') =>
        {
            Some(format!("'{}'", s.replace('\'', "''")))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::{col, lit};

    fn columns() -> Vec<(String, PgColumnType)> {
        vec![
            ("id".into(), PgColumnType::Int64),
            ("name".into(), PgColumnType::Text),
            ("ok".into(), PgColumnType::Bool),
            ("doc".into(), PgColumnType::OtherAsText),
        ]
    }

    #[test]
    fn pushable_filters_render() {
        let c = columns();
        assert_eq!(
            to_sql(&col("id").gt(lit(5i64)), &c).as_deref(),
            Some("\"id\" > 5")
        );
        assert_eq!(
            to_sql(&lit(5i64).lt(col("id")), &c).as_deref(),
            Some("\"id\" > 5")
        );
        assert_eq!(
            to_sql(&col("name").eq(lit("it's")), &c).as_deref(),
            Some("\"name\" = 'it''s'")
        );
        assert_eq!(
            to_sql(&col("ok").eq(lit(true)).and(col("id").is_null()), &c).as_deref(),
            Some("(\"ok\" = true AND \"id\" IS NULL)")
        );
    }

    #[test]
    fn the_rest_stays_in_datafusion() {
        let c = columns();
        assert_eq!(to_sql(&col("name").gt(lit("a")), &c), None);
        assert_eq!(to_sql(&col("doc").eq(lit("{}")), &c), None);
        assert_eq!(to_sql(&col("id").eq(lit("5")), &c), None);
        assert_eq!(to_sql(&col("id").gt(lit(1i64)).or(col("ok")), &c), None);
        assert_eq!(to_sql(&col("missing").eq(lit(1i64)), &c), None);
    }
}
