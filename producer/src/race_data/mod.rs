//! Race feed events from the recorded real lap data in `shared/data/race/`
//! (two data sets: FIA timing PDFs 2021–2023r5 and Ergast 2020–2021).
//!
//! # Event rules
//!
//! These rules are heuristics where the data sets are silent; they are the
//! contract of the recorded feed.
//!
//! - **Race id** `"{dataset}-{year}-{round:02}"` (`fia-2021-01`, `ergast-2020-01`);
//!   races are ordered by (year, round).
//! - **Time.** The data sets carry the race date only, so a race starts at a
//!   nominal 12:00:00 UTC on its date; an event's `ts` is that start plus race
//!   time in ms.
//! - **Laps.** Per car, `race_time_ms` at lap N is the sum of its lap times
//!   1..=N; `ts` = start + `race_time_ms`. Ergast: `lap`, `position` and
//!   `milliseconds` as given (its `time` text is lossy and ignored). FIA: the
//!   lap chart is organised by the *leader's* laps (a lapped car's lap N-1 sits
//!   in column N), so a car's `lap` is the count of its rows so far; and since
//!   rows within a column are in crossing order with lapped cars interleaved,
//!   `position` is the rank within the column by laps down (`gap_to_leader`
//!   "N LAP(S)"; a "PIT" row keeps the car's previous value), then file order.
//!   The FIA chart omits the lap containing a red-flag stoppage (and a few laps
//!   of lapped cars), so after a suspension FIA lap counts run one below the
//!   official ones (2021 British GP: 51 laps, Ergast 52) and FIA race time
//!   leaves out the stoppage.
//! - **RaceStart** at the start: season, round, name, date, circuit (FIA:
//!   `circuits.csv` name and country; Ergast: `circuitid` as text only),
//!   `scheduled_laps` = the most laps completed by any car, and a grid slot for
//!   every car of the results, in grid order; pit-lane starters (FIA `PIT LANE`,
//!   Ergast grid 0) have no grid position and come last. Keys are text: FIA's
//!   own (`max_verstappen`), Ergast's `driverref` / `constructorref`
//!   (`hamilton`, `mercedes`); Ergast also gives code and car number.
//! - **Pit stops.** Ergast `pit_stops`: `PitIn` when the car completes the stop's
//!   `lap`, `PitOut` `milliseconds` later (`duration_ms`). FIA: a lap row whose
//!   gap is "PIT" means the car entered the pit lane at the end of that lap:
//!   `PitIn` then, stops numbered per car, and `PitOut` at the *same* `ts` with no
//!   `duration_ms`, because the chart does not measure the stop.
//! - **Flags** per leader lap L (the first car to complete lap L; `ts` = its
//!   crossing): red if the median lap time of the cars' lap L exceeds 5 minutes,
//!   safety car if that median is ≥ 1.25 × the race's median lap time, else
//!   green. FIA charts have no column for a lap containing a red-flag stoppage,
//!   so a chart column missing from a race also means red, at the leader's last
//!   lap before the gap. The race starts green (no event); only changes are sent.
//! - **Retirement** for each car with fewer laps than `scheduled_laps` that is
//!   not classified as finishing (FIA `finish_status` "DNF"; Ergast `position`
//!   null): `lap` = laps completed, `status` = FIA "DNF" / Ergast `positiontext`
//!   ("R", "W", "D"), `ts` = when the leader completes the car's next lap (the
//!   car's last crossing if the leader never does). FIA "DNF" cars that are
//!   still classified (90 % distance) get one too.
//! - **RaceFinish** when the winner completes its last lap: classified cars by
//!   position, unclassified after them; `laps` = laps in the lap data; status FIA
//!   `finish_status` as is ("Finish", "1 LAP", "2 LAPS", "DNF"); Ergast "Finish"
//!   on the lead lap, "+1 LAP" / "+N LAPS" when lapped, `positiontext` when
//!   unclassified; points from Ergast only.
//! - **Order** within a race: `ts`, then race_start, lap_completed, pit_in,
//!   pit_out, flag, retirement, race_finish, then position, driver, lap.
//! - A malformed or inconsistent source row fails the load with a
//!   [`RaceDataError`] naming file and line. Every event passes `RaceEvent::validate(&Limits::default())`; a source row
//!   that cannot is left out and described in [`RaceRecording::skipped`].

mod assemble;
mod civil;
mod csv_rows;
mod ergast;
mod error;
mod fia;
mod fia_laps;
mod finish;
mod flags;
mod load;
mod lookup;
mod model;
mod timeline;

#[cfg(test)]
mod tests;

pub use error::RaceDataError;
pub use load::{RaceDataset, RaceRecording, load_races};
