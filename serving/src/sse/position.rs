//! Event ids: a cut through the metrics topic, so that every instance reads
//! the same id the same way.
//!
//! An event sits at a [`Position`] in its metrics-topic partition: the
//! offset of the Kafka message it came from and its index among that
//! message's events. Offsets are only compared, never incremented: the
//! topic is written transactionally and read read_committed, so offsets
//! have holes (transaction markers, aborted records) and `offset + 1` means
//! nothing. An event's id is the [`Cut`] of the instance right after it:
//! for every partition, the position of the last event published from it.
//! Everything up to a cut, in every partition, is what a client holding
//! that id has been offered; resuming means "every event after the cut",
//! which any instance can answer because positions come from Kafka, not
//! from the process. Across partitions instances may interleave
//! differently; within a partition the order is Kafka's.
//!
//! Text form: `<partition>:<offset>:<index>` per partition, ascending,
//! joined by `,` (`0:1234:5,1:88:0`); `-` is the empty cut (nothing seen).

use std::collections::BTreeMap;
use std::fmt::Write;

/// (metrics-topic offset of the message, index of the event within it).
pub(crate) type Position = (i64, u32);

/// Per metrics-topic partition, the position of the last event up to which
/// a client has been offered everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cut(BTreeMap<i32, Position>);

impl Cut {
    /// The cut's position in `partition` (`None`: nothing seen there).
    pub(crate) fn get(&self, partition: i32) -> Option<Position> {
        self.0.get(&partition).copied()
    }

    /// Moves the cut of `partition` to `position`.
    pub(crate) fn set(&mut self, partition: i32, position: Position) {
        self.0.insert(partition, position);
    }

    /// True when an event at `position` of `partition` lies after the cut.
    pub(crate) fn precedes(&self, partition: i32, position: Position) -> bool {
        self.get(partition).is_none_or(|c| position > c)
    }

    /// True when this cut is at or after `other` in every partition.
    pub(crate) fn covers(&self, other: &Cut) -> bool {
        other.0.iter().all(|(p, o)| self.get(*p) >= Some(*o))
    }

    /// The later of the two cuts, per partition.
    pub(crate) fn join(&self, other: &Cut) -> Cut {
        let mut joined = self.clone();
        for (p, o) in &other.0 {
            let e = joined.0.entry(*p).or_insert(*o);
            *e = (*e).max(*o);
        }
        joined
    }

    /// The id text (see the module docs).
    pub(crate) fn to_id(&self) -> String {
        if self.0.is_empty() {
            return "-".to_owned();
        }
        let mut id = String::with_capacity(16 * self.0.len());
        for (i, (p, (offset, index))) in self.0.iter().enumerate() {
            if i > 0 {
                id.push(',');
            }
            let _ = write!(id, "{p}:{offset}:{index}");
        }
        id
    }

    /// Reads an id written by [`Cut::to_id`]; `None` when it is not one.
    pub(crate) fn parse(id: &str) -> Option<Cut> {
        let id = id.trim();
        if id == "-" {
            return Some(Cut::default());
        }
        let mut cut = BTreeMap::new();
        for part in id.split(',') {
            let mut fields = part.split(':');
            let (Some(p), Some(offset), Some(index), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return None;
            };
            let p: i32 = p.parse().ok().filter(|p| *p >= 0)?;
            let offset: i64 = offset.parse().ok().filter(|o| *o >= -1)?;
            let index: u32 = index.parse().ok()?;
            if cut.insert(p, (offset, index)).is_some() {
                return None;
            }
        }
        Some(Cut(cut))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_strangers_are_refused() {
        let mut cut = Cut::default();
        assert_eq!(cut.to_id(), "-");
        assert_eq!(Cut::parse("-"), Some(Cut::default()));
        cut.set(1, (88, 0));
        cut.set(0, (1234, 5));
        assert_eq!(cut.to_id(), "0:1234:5,1:88:0");
        assert_eq!(Cut::parse(&cut.to_id()), Some(cut));
        for bad in [
            "",
            "12",
            "0:1",
            "0:1:2:3",
            "0:1:2,0:3:4",
            "a:1:2",
            "0:-5:0",
            "0:1:-1",
        ] {
            assert_eq!(Cut::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn order_compares_offsets_with_holes_then_indexes() {
        let mut cut = Cut::default();
        assert!(cut.precedes(0, (0, 0)), "an empty cut precedes everything");
        cut.set(0, (10, 2));
        // 11 may be a transaction marker: the next record is at 12.
        assert!(cut.precedes(0, (12, 0)));
        assert!(cut.precedes(0, (10, 3)));
        assert!(!cut.precedes(0, (10, 2)));
        assert!(!cut.precedes(0, (9, 7)));
        assert!(cut.precedes(1, (0, 0)), "other partitions are independent");
    }

    #[test]
    fn joins_take_the_later_position_per_partition() {
        let a = Cut::parse("0:10:2,1:5:0").expect("id");
        let b = Cut::parse("0:12:0").expect("id");
        assert!(!a.covers(&b) && !b.covers(&a));
        let j = a.join(&b);
        assert_eq!(j.to_id(), "0:12:0,1:5:0");
        assert!(j.covers(&a) && j.covers(&b) && j.covers(&Cut::default()));
    }
}
