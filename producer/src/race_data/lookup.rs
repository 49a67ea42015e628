//! Key → names tables (drivers, constructors, circuits) shared by both loaders.

use std::collections::HashMap;
use std::path::Path;

use super::csv_rows::for_each_row;
use super::error::Result;

/// Reads `path` into a map from the `key` column to the `values` columns.
/// `\N` and empty values read as `None`; a repeated key is an error on its line,
/// since silently keeping either row would hide a broken file.
pub(crate) fn lookup<const N: usize>(
    path: &Path,
    key: &'static str,
    values: [&'static str; N],
) -> Result<HashMap<String, [Option<String>; N]>> {
    let mut columns = vec![key];
    columns.extend(values);
    let mut map = HashMap::new();
    for_each_row(path, &columns, |row| {
        let id = row.str(key)?.to_owned();
        let mut fields: [Option<String>; N] = std::array::from_fn(|_| None);
        for (field, column) in fields.iter_mut().zip(values) {
            *field = row.opt(column)?.map(str::to_owned);
        }
        if map.insert(id.clone(), fields).is_some() {
            return Err(row.inconsistent(format!("{key} {id:?} appears twice")));
        }
        Ok(())
    })?;
    Ok(map)
}
