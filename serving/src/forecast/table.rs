//! The result of a forecast: Prophet's output frame, column by column.
//!
//! Column-oriented because the consumers are charts (one array per trace) and
//! because it is a fraction of the size of one object per row. Column names
//! are Prophet's (`ds`, `yhat`, `yhat_lower`, `yhat_upper`, `trend`, then one
//! column per seasonality that was fitted, such as `daily` or `weekly`), so a
//! Prophet user reads it without a glossary.

use std::io;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::timestamp::format_rfc3339;

/// One forecast: history points first, then the future points.
///
/// Every column has [`len`](Self::len) values. In additive mode (the one
/// [`forecast`](super::forecast) fits) `yhat = trend + Σ components` at every
/// row. `yhat_lower`/`yhat_upper` come from 1,000 posterior-predictive samples
/// drawn with an unseeded generator, so they vary slightly between calls;
/// every other column is deterministic for a given request.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastTable {
    pub(crate) ds: Vec<i64>,
    pub(crate) history_len: usize,
    pub(crate) yhat: Vec<f64>,
    pub(crate) yhat_lower: Vec<f64>,
    pub(crate) yhat_upper: Vec<f64>,
    pub(crate) trend: Vec<f64>,
    /// Seasonal components by name, sorted by name.
    pub(crate) components: Vec<(String, Vec<f64>)>,
}

/// The fixed columns, in output order, before the seasonal components.
const FIXED_COLUMNS: [&str; 5] = ["ds", "yhat", "yhat_lower", "yhat_upper", "trend"];

impl ForecastTable {
    /// Number of rows: history plus future points.
    pub fn len(&self) -> usize {
        self.ds.len()
    }

    /// Whether the table has no rows (never true for a table from [`forecast`](super::forecast)).
    pub fn is_empty(&self) -> bool {
        self.ds.is_empty()
    }

    /// Number of leading rows that are the history; the rest are the future.
    pub fn history_len(&self) -> usize {
        self.history_len
    }

    /// Timestamps, epoch seconds (serialized as RFC 3339 UTC text).
    pub fn ds(&self) -> &[i64] {
        &self.ds
    }

    /// The forecast (for history rows, the in-sample fit).
    pub fn yhat(&self) -> &[f64] {
        &self.yhat
    }

    /// Lower end of the uncertainty interval.
    pub fn yhat_lower(&self) -> &[f64] {
        &self.yhat_lower
    }

    /// Upper end of the uncertainty interval.
    pub fn yhat_upper(&self) -> &[f64] {
        &self.yhat_upper
    }

    /// The piecewise-linear trend.
    pub fn trend(&self) -> &[f64] {
        &self.trend
    }

    /// Seasonal components (`daily`, `weekly`, `yearly`: whichever Prophet
    /// enabled for the data's span and spacing), sorted by name.
    pub fn components(&self) -> &[(String, Vec<f64>)] {
        &self.components
    }

    /// A numeric column by its output name (`yhat`, ..., or a component name).
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        match name {
            "yhat" => Some(&self.yhat),
            "yhat_lower" => Some(&self.yhat_lower),
            "yhat_upper" => Some(&self.yhat_upper),
            "trend" => Some(&self.trend),
            _ => self
                .components
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, c)| c.as_slice()),
        }
    }

    /// Output column names in order: the fixed ones, then the components.
    pub fn column_names(&self) -> Vec<&str> {
        FIXED_COLUMNS
            .into_iter()
            .chain(self.components.iter().map(|(n, _)| n.as_str()))
            .collect()
    }

    /// Every column but `ds`, in output order.
    fn numeric_columns(&self) -> Vec<(&str, &[f64])> {
        let fixed = [
            ("yhat", &self.yhat),
            ("yhat_lower", &self.yhat_lower),
            ("yhat_upper", &self.yhat_upper),
            ("trend", &self.trend),
        ];
        fixed
            .into_iter()
            .chain(self.components.iter().map(|(n, c)| (n.as_str(), c)))
            .map(|(n, c)| (n, c.as_slice()))
            .collect()
    }

    /// Writes the table as CSV: a header of [`column_names`](Self::column_names),
    /// then one row per point, `ds` as RFC 3339 UTC and numbers in Rust's
    /// shortest round-trip form. Nothing needs quoting: names are identifiers.
    pub fn write_csv<W: io::Write>(&self, mut out: W) -> io::Result<()> {
        writeln!(out, "{}", self.column_names().join(","))?;
        let columns: Vec<&[f64]> = self.numeric_columns().into_iter().map(|(_, c)| c).collect();
        for (row, ds) in self.ds.iter().enumerate() {
            write!(out, "{}", format_rfc3339(*ds))?;
            for column in &columns {
                write!(out, ",{}", column[row])?;
            }
            writeln!(out)?;
        }
        out.flush()
    }
}

/// `{"ds": ["2017-03-19T12:00:00Z", ...], "yhat": [...], ...}` in
/// [`column_names`](ForecastTable::column_names) order.
impl Serialize for ForecastTable {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map =
            serializer.serialize_map(Some(FIXED_COLUMNS.len() + self.components.len()))?;
        let ds: Vec<String> = self.ds.iter().map(|s| format_rfc3339(*s)).collect();
        map.serialize_entry("ds", &ds)?;
        for (name, column) in self.numeric_columns() {
            map.serialize_entry(name, column)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> ForecastTable {
        ForecastTable {
            ds: vec![1_489_921_200, 1_489_924_800],
            history_len: 1,
            yhat: vec![1.5, 2.0],
            yhat_lower: vec![1.0, 1.25],
            yhat_upper: vec![2.0, 3.0],
            trend: vec![1.0, 1.5],
            components: vec![("daily".to_owned(), vec![0.5, 0.5])],
        }
    }

    #[test]
    fn json_is_column_oriented_in_order() {
        let json = serde_json::to_string(&table()).expect("serializes");
        assert_eq!(
            json,
            r#"{"ds":["2017-03-19T11:00:00Z","2017-03-19T12:00:00Z"],"yhat":[1.5,2.0],"yhat_lower":[1.0,1.25],"yhat_upper":[2.0,3.0],"trend":[1.0,1.5],"daily":[0.5,0.5]}"#
        );
    }

    #[test]
    fn csv_has_a_header_and_one_row_per_point() {
        let mut out = Vec::new();
        table().write_csv(&mut out).expect("writes to memory");
        assert_eq!(
            String::from_utf8(out).expect("ASCII"),
            "ds,yhat,yhat_lower,yhat_upper,trend,daily\n\
             2017-03-19T11:00:00Z,1.5,1,2,1,0.5\n\
             2017-03-19T12:00:00Z,2,1.25,3,1.5,0.5\n"
        );
    }
}
