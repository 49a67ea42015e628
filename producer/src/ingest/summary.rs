//! The account of a run, printed by `billabong produce` as its last line.

use serde::Serialize;

/// What one run did. Field order is the JSON line's order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Records read from the source, dropped duplicates included.
    pub received: u64,
    /// Valid records committed to the raw topic.
    pub produced: u64,
    /// Invalid records committed to the DLQ.
    pub dlq: u64,
    /// Connections to the feed after the first.
    pub reconnects: u64,
    /// Records dropped because a catch-up sent them again.
    pub duplicates_dropped: u64,
}

impl Summary {
    /// The one-line JSON form:
    /// `{"received":N,"produced":N,"dlq":N,"reconnects":N,"duplicates_dropped":N}`.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("a struct of integers always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_has_the_documented_shape() {
        let summary = Summary {
            received: 5,
            produced: 3,
            dlq: 1,
            reconnects: 2,
            duplicates_dropped: 1,
        };
        assert_eq!(
            summary.to_json_line(),
            r#"{"received":5,"produced":3,"dlq":1,"reconnects":2,"duplicates_dropped":1}"#
        );
    }
}
