//! The channels a client can ask for: the speed layer's live metric
//! families (the `metric` field of its updates) and `views`.

/// Announces that the served merged views changed.
pub(crate) const VIEWS: &str = "views";

/// The live metric families the speed layer publishes (the literals of
/// `stream-processor/src/rsvp` and `race`), then [`VIEWS`]. Listed here
/// rather than imported: serving does not depend on the speed layer. The
/// SSE test fails when real data carries a family missing from this list.
pub(crate) const KNOWN: &[&str] = &[
    "rsvp_count",
    "rsvp_rate",
    "rsvp_guests",
    "rsvp_late",
    "rsvp_trending",
    "topics_top",
    "model_status",
    "model_accuracy",
    "race_car",
    "race_order",
    "race_fastest",
    "race_pass",
    "race_pit",
    "race_flag",
    "race_finish",
    "race_clumpiness",
    "race_prediction",
    VIEWS,
];

/// A set of channels as bits: bit `i` is `KNOWN[i]`, [`OTHER`] any family
/// this build does not know (delivered only to clients that asked for
/// every channel).
pub(crate) type Channels = u32;

/// The bit of a metric family missing from [`KNOWN`].
pub(crate) const OTHER: Channels = 1 << 31;

/// Every channel, known or not.
pub(crate) const ALL: Channels = Channels::MAX;

/// The bit of `name`.
pub(crate) fn bit(name: &str) -> Channels {
    KNOWN
        .iter()
        .position(|k| *k == name)
        .map_or(OTHER, |i| 1 << i)
}

/// Parses the `channels` parameter (absent: every channel). The error
/// names the unknown channel and lists the known ones.
pub(crate) fn parse(param: Option<&str>) -> Result<Channels, String> {
    let Some(param) = param else {
        return Ok(ALL);
    };
    let mut set = 0;
    for name in param.split(',').map(str::trim) {
        match bit(name) {
            OTHER => {
                return Err(format!(
                    "unknown channel {name:?}; channels: {}",
                    KNOWN.join(", ")
                ));
            }
            b => set |= b,
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_parse_and_unknown_ones_are_named() {
        const _: () = assert!(KNOWN.len() < 31, "a bit per channel and OTHER");
        assert_eq!(parse(None), Ok(ALL));
        let set = parse(Some("race_car, views")).expect("known");
        assert_ne!(set & bit("race_car"), 0);
        assert_ne!(set & bit(VIEWS), 0);
        assert_eq!(set & bit("rsvp_count"), 0);
        assert_eq!(set & OTHER, 0);
        let error = parse(Some("race_car,nope")).expect_err("unknown");
        assert!(
            error.contains("\"nope\"") && error.contains("rsvp_count"),
            "{error}"
        );
        assert!(parse(Some("")).is_err(), "an empty list names no channel");
    }
}
