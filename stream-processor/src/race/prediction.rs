//! The blended finishing-position prediction (after PitRho's NASCAR
//! analytics): early in a race the grid says more about the finish than the
//! running order does; late in a race the running order says nearly all.
//!
//! ```text
//! predicted = w · historical + (1 − w) · live,   w = 1 − laps / scheduled_laps
//! ```
//!
//! - `historical`: the car's grid position (a pit-lane start counts as the
//!   back of the grid). The batch layer's race position model would be the
//!   better historical estimate; the model registry reader serves only the
//!   RSVP model so far, so every prediction says `historical_source: "grid"`.
//! - `live`: the running position at the car's last completed lap.
//! - `w` (`weight`) falls linearly from 1 at the start to 0 at the scheduled
//!   distance; `live_weight` = 1 − w is published too.

use serde_json::{Value, json};

use super::car::Car;

/// The `race_prediction` value of one car after one of its laps; `None`
/// before the car has a running position.
pub(super) fn blended(
    race_id: &str,
    driver: &str,
    car: &Car,
    scheduled_laps: u32,
    field_size: u32,
) -> Option<Value> {
    let live = f64::from(car.position?);
    let lap = car.last().map_or(0, |(l, _)| l);
    let historical = f64::from(car.grid.unwrap_or(field_size.max(1)));
    let weight = historical_weight(lap, scheduled_laps);
    Some(json!({
        "race_id": race_id,
        "driver": driver,
        "lap": lap,
        "historical": historical,
        "historical_source": "grid",
        "live_position": live,
        "weight": weight,
        "live_weight": 1.0 - weight,
        "predicted_position": weight * historical + (1.0 - weight) * live,
    }))
}

/// `w`: 1 − laps / scheduled laps, within [0, 1]; 0 when the distance is
/// unknown (then only the live order is evidence).
fn historical_weight(lap: u32, scheduled_laps: u32) -> f64 {
    if scheduled_laps == 0 {
        return 0.0;
    }
    (1.0 - f64::from(lap) / f64::from(scheduled_laps)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn car(grid: Option<u32>, position: u32, laps: u32) -> Car {
        let mut car = Car {
            grid,
            position: Some(position),
            ..Car::default()
        };
        for lap in 1..=laps {
            car.race_times.insert(lap, i64::from(lap) * 90_000);
        }
        car
    }

    #[test]
    fn the_grid_weighs_less_as_the_race_goes_on() {
        let at = |laps| blended("r", "d", &car(Some(10), 2, laps), 50, 20).expect("placed");
        let start = at(0);
        assert_eq!(start["weight"], 1.0);
        assert_eq!(start["predicted_position"], 10.0);
        let middle = at(25);
        assert_eq!(middle["weight"], 0.5);
        assert_eq!(middle["live_weight"], 0.5);
        assert_eq!(middle["predicted_position"], 6.0);
        let end = at(50);
        assert_eq!(end["predicted_position"], 2.0);
        // Laps beyond the schedule (a late flag) keep w at 0.
        assert_eq!(at(52)["weight"], 0.0);
    }

    #[test]
    fn a_pit_lane_start_counts_from_the_back_and_no_position_means_no_prediction() {
        let p = blended("r", "d", &car(None, 4, 10), 40, 20).expect("placed");
        assert_eq!(p["historical"], 20.0);
        assert_eq!(p["predicted_position"], 0.75 * 20.0 + 0.25 * 4.0);
        let unplaced = Car::default();
        assert!(blended("r", "d", &unplaced, 40, 20).is_none());
        assert_eq!(historical_weight(3, 0), 0.0);
    }
}
