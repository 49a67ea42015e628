//! Exact top-k of counters that only grow, maintained per increment.
//!
//! A topic outside the list can only enter when its own count rises, and then
//! it only has to beat the last entry; so one increment costs O(k log k)
//! rather than a sort of every topic of the window.

use std::collections::HashMap;

/// Counts per name and the current top `k` by (count desc, name asc).
#[derive(Debug, Clone, Default)]
pub(crate) struct TopK {
    counts: HashMap<String, u64>,
    top: Vec<(String, u64)>,
}

impl TopK {
    /// Adds one to `name`; returns whether the top list changed.
    pub(crate) fn increment(&mut self, name: &str, k: usize) -> bool {
        // `get_mut` first: `entry` would allocate the key on every call, and
        // nearly every call finds it (bench/RESULTS.md, speed layer profile).
        let count = match self.counts.get_mut(name) {
            Some(c) => {
                *c += 1;
                *c
            }
            None => {
                self.counts.insert(name.to_owned(), 1);
                1
            }
        };
        if let Some(entry) = self.top.iter_mut().find(|(n, _)| n == name) {
            entry.1 = count;
        } else if self.top.len() < k {
            self.top.push((name.to_owned(), count));
        } else if let Some(last) = self.top.last_mut()
            && (count, std::cmp::Reverse(name)) > (last.1, std::cmp::Reverse(last.0.as_str()))
        {
            *last = (name.to_owned(), count);
        } else {
            return false;
        }
        self.top
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        true
    }

    /// The current list, best first.
    pub(crate) fn top(&self) -> &[(String, u64)] {
        &self.top
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_full_sort_on_every_step() {
        let names = ["a", "b", "c", "d", "e"];
        let mut rng = 7_u64;
        let mut topk = TopK::default();
        let mut all: HashMap<String, u64> = HashMap::new();
        for _ in 0..500 {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let name = names[(rng >> 33) as usize % names.len()];
            let before = topk.top().to_vec();
            let changed = topk.increment(name, 3);
            assert_eq!(changed, before != topk.top());
            *all.entry(name.to_owned()).or_default() += 1;
            let mut sorted: Vec<_> = all.iter().map(|(n, c)| (n.clone(), *c)).collect();
            sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            sorted.truncate(3);
            assert_eq!(topk.top(), sorted.as_slice());
        }
    }
}
