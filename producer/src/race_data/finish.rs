//! The end of a race: retirements and the classification.

use schemas::race::{RaceFinish, ResultRow, Retirement};

use super::model::{Classified, Status};
use super::timeline::Timeline;

/// One `Retirement` per car that is not classified as finishing and completed
/// fewer laps than the distance. It is timed when the leader completes the lap
/// the car never finished (the car's next lap), because that is when a live feed
/// could notice the car is missing; failing that, at the car's last crossing.
pub(crate) fn retirements(
    race_id: &str,
    start_ms: i64,
    results: &[Classified],
    timeline: &Timeline,
) -> Vec<Retirement> {
    let scheduled = timeline.scheduled_laps();
    let retirement = |result: &Classified| {
        let status = result.retired.as_ref()?;
        let laps = timeline.laps_completed(&result.driver_id);
        if laps >= scheduled {
            return None;
        }
        let ts = timeline
            .leader_ts(laps + 1)
            .or_else(|| timeline.last_ts(&result.driver_id))
            .unwrap_or(start_ms);
        Some(Retirement {
            race_id: race_id.to_owned(),
            ts,
            driver_id: result.driver_id.clone(),
            lap: laps,
            status: status.clone(),
        })
    };
    results.iter().filter_map(retirement).collect()
}

/// The `RaceFinish` status of a car `laps_down` laps behind the distance, for
/// data sets without status text: `Finish`, `+1 LAP`, `+N LAPS`.
fn status_text(status: Status, laps_down: u32) -> String {
    match status {
        Status::Text(text) => text,
        Status::ByLapsDown => match laps_down {
            0 => "Finish".to_owned(),
            1 => "+1 LAP".to_owned(),
            n => format!("+{n} LAPS"),
        },
    }
}

/// The classification, at the moment the winner crossed the line for the last
/// time; classified cars by position, unclassified ones after them in the data
/// set's order. `laps` counts the laps in the lap data.
pub(crate) fn race_finish(
    race_id: &str,
    start_ms: i64,
    mut results: Vec<Classified>,
    timeline: &Timeline,
) -> RaceFinish {
    // Stable, so unclassified cars keep the data set's order.
    results.sort_by_key(|r| (r.position.is_none(), r.position));
    let scheduled = timeline.scheduled_laps();
    let winner = results.iter().find(|r| r.position == Some(1));
    let ts = winner
        .and_then(|w| timeline.last_ts(&w.driver_id))
        .or_else(|| timeline.leader_ts(scheduled))
        .unwrap_or(start_ms);
    let rows = results.into_iter().map(|r| {
        let laps = timeline.laps_completed(&r.driver_id);
        ResultRow {
            status: status_text(r.status, scheduled.saturating_sub(laps)),
            driver_id: r.driver_id,
            position: r.position,
            laps,
            points: r.points,
        }
    });
    RaceFinish {
        race_id: race_id.to_owned(),
        ts,
        results: rows.collect(),
    }
}
