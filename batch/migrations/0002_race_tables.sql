-- The race feed in third normal form. Same src_* rule as the RSVP tables:
-- attributes come from the newest lake record (event ts, then lake position).
-- A race's events share one Kafka partition, so within a race "newest" is
-- also "last in feed order".

CREATE TABLE circuits (
    circuit_id     text PRIMARY KEY,
    circuit_name   text,
    country        text,
    src_time       timestamptz NOT NULL,
    src_partition  integer NOT NULL,
    src_offset     bigint NOT NULL
);

CREATE TABLE drivers (
    driver_id      text PRIMARY KEY,
    driver_name    text NOT NULL,
    driver_code    text,
    src_time       timestamptz NOT NULL,
    src_partition  integer NOT NULL,
    src_offset     bigint NOT NULL
);

CREATE TABLE constructors (
    constructor_id   text PRIMARY KEY,
    constructor_name text,
    src_time         timestamptz NOT NULL,
    src_partition    integer NOT NULL,
    src_offset       bigint NOT NULL
);

CREATE TABLE races (
    race_id        text PRIMARY KEY,
    season         integer NOT NULL,
    round          integer NOT NULL,
    race_name      text NOT NULL,
    race_date      date NOT NULL,
    circuit_id     text NOT NULL REFERENCES circuits,
    scheduled_laps integer NOT NULL,
    start_time     timestamptz NOT NULL,       -- the race_start event's ts
    src_partition  integer NOT NULL,
    src_offset     bigint NOT NULL
);
CREATE INDEX races_circuit ON races (circuit_id);
CREATE INDEX races_season_round ON races (season, round);

-- Who started a race, for which constructor, from where.
CREATE TABLE entries (
    race_id        text NOT NULL REFERENCES races,
    driver_id      text NOT NULL REFERENCES drivers,
    constructor_id text NOT NULL REFERENCES constructors,
    car_number     integer,
    grid_position  integer,                    -- null: started from the pit lane or not classified on the grid
    src_time       timestamptz NOT NULL,
    src_partition  integer NOT NULL,
    src_offset     bigint NOT NULL,
    PRIMARY KEY (race_id, driver_id)
);
CREATE INDEX entries_driver ON entries (driver_id);
CREATE INDEX entries_constructor ON entries (constructor_id);

CREATE TABLE laps (
    race_id        text NOT NULL,
    driver_id      text NOT NULL,
    lap            integer NOT NULL,
    position       integer NOT NULL,
    lap_time_ms    bigint NOT NULL,
    race_time_ms   bigint NOT NULL,
    completed_at   timestamptz NOT NULL,       -- the event's ts
    src_partition  integer NOT NULL,
    src_offset     bigint NOT NULL,
    PRIMARY KEY (race_id, driver_id, lap),
    FOREIGN KEY (race_id, driver_id) REFERENCES entries
);

-- One row per stop, from its pit_in and pit_out events; each half keeps the
-- newest event of its kind, so a stop seen only half (race cut off) has nulls.
CREATE TABLE pit_stops (
    race_id        text NOT NULL,
    driver_id      text NOT NULL,
    stop           integer NOT NULL,
    lap            integer NOT NULL,
    in_time        timestamptz,
    out_time       timestamptz,
    duration_ms    bigint,
    src_partition  integer NOT NULL,
    src_offset     bigint NOT NULL,
    PRIMARY KEY (race_id, driver_id, stop),
    FOREIGN KEY (race_id, driver_id) REFERENCES entries
);

CREATE TABLE results (
    race_id        text NOT NULL REFERENCES races,
    driver_id      text NOT NULL REFERENCES drivers,
    position       integer,                    -- null: not classified
    status         text NOT NULL,
    laps           integer NOT NULL,
    points         double precision,
    src_partition  integer NOT NULL,
    src_offset     bigint NOT NULL,
    PRIMARY KEY (race_id, driver_id)
);
CREATE INDEX results_driver ON results (driver_id);
