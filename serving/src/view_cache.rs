//! Cached answers of `GET /api/views/<name>`.
//!
//! A merged answer is a function of its [`Coverage`] alone: the lambda
//! invariant says the rows equal the view computed from scratch over exactly
//! the offsets the coverage names. So an answer serialized once stays right
//! for as long as the served coverage is equal to the one it was built at,
//! and the coverage is the cache's validator: no invalidation hooks in the
//! feeds, and no answer outlives the data it describes. Computing the
//! coverage reads a few small maps; merging reads every batch row of the
//! run, which is what a hit saves (see bench/serving).

use std::collections::HashMap;
use std::sync::RwLock;

use bytes::Bytes;

use crate::state::Coverage;

/// Entries kept at most; beyond, the cache starts over (distinct filter
/// combinations are few on a dashboard, many only under a scan).
const MAX_ENTRIES: usize = 1_024;

/// Answer bodies by request (view and normalized query).
#[derive(Default)]
pub(crate) struct ViewCache {
    entries: RwLock<HashMap<String, (Coverage, Bytes)>>,
}

impl ViewCache {
    /// The key of a request: the view, then its parameters sorted.
    pub(crate) fn key<'a>(
        view: &str,
        query: impl Iterator<Item = (&'a String, &'a String)>,
    ) -> String {
        let mut params: Vec<_> = query.collect();
        params.sort();
        let mut key = view.to_owned();
        for (k, v) in params {
            key.push('&');
            key.push_str(k);
            key.push('=');
            key.push_str(v);
        }
        key
    }

    /// The body cached for `key` if it was built at `coverage`.
    pub(crate) fn get(&self, key: &str, coverage: &Coverage) -> Option<Bytes> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at == coverage)
            .map(|(_, body)| body.clone())
    }

    /// Keeps `body`, built at `coverage`, for `key`.
    pub(crate) fn put(&self, key: String, coverage: Coverage, body: Bytes) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, (coverage, body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn coverage(through: i64) -> Coverage {
        Coverage {
            batch_run_id: 1,
            batch_watermarks: BTreeMap::new(),
            generation: 1,
            through: BTreeMap::from([("t".to_owned(), BTreeMap::from([(0, through)]))]),
            lag_records: 0,
            realtime_event_time_ms: None,
        }
    }

    #[test]
    fn an_answer_is_served_only_at_the_coverage_it_was_built_at() {
        let cache = ViewCache::default();
        let q: HashMap<String, String> = [
            ("to".to_owned(), "9".to_owned()),
            ("from".to_owned(), "1".to_owned()),
        ]
        .into();
        let key = ViewCache::key("v", q.iter());
        assert_eq!(key, "v&from=1&to=9");
        cache.put(key.clone(), coverage(5), Bytes::from_static(b"five"));
        assert_eq!(cache.get(&key, &coverage(5)).as_deref(), Some(&b"five"[..]));
        assert_eq!(cache.get(&key, &coverage(6)), None);
        assert_eq!(cache.get("v", &coverage(5)), None);
    }
}
