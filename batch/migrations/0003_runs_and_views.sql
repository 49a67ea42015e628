-- Batch runs and the views they publish.

CREATE TABLE batch_runs (
    run_id         bigint PRIMARY KEY,         -- previous successful run + 1
    status         text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    attempts       integer NOT NULL DEFAULT 1, -- a killed or failed attempt is retried under the same id
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz,
    rows_loaded    jsonb,                      -- rows merged per table
    rows_read      bigint,                     -- lake rows read past the previous watermark
    error          text,
    published_at   timestamptz                 -- when the run went to billabong.batch-runs
);

-- The offsets a successful run covers: per raw topic partition, every offset
-- <= last_offset is in its tables and views, none above.
CREATE TABLE batch_run_watermarks (
    run_id         bigint NOT NULL REFERENCES batch_runs ON DELETE CASCADE,
    topic          text NOT NULL,
    partition      integer NOT NULL,
    last_offset    bigint NOT NULL,
    PRIMARY KEY (run_id, topic, partition)
);

-- RSVP messages per group country per hour of mtime. Counts every message the
-- feed delivered (a re-emitted RSVP counts again), like the speed layer does,
-- so batch + real-time rows add up across the watermark.
CREATE TABLE view_rsvps_country_hour (
    run_id         bigint NOT NULL,
    country_code   text NOT NULL,
    hour           timestamptz NOT NULL,
    rsvps          bigint NOT NULL,
    yes_count      bigint NOT NULL,
    guests         bigint NOT NULL,
    PRIMARY KEY (run_id, country_code, hour)
);

-- RSVP messages per group topic per UTC day of mtime (a message counts once
-- for every topic of its group as the message lists them).
CREATE TABLE view_topic_day (
    run_id         bigint NOT NULL,
    urlkey         text NOT NULL,
    day            date NOT NULL,
    rsvps          bigint NOT NULL,
    yes_count      bigint NOT NULL,
    PRIMARY KEY (run_id, urlkey, day)
);

-- Per race and driver, from the laps, pit_stops and results tables.
-- total_lap_ms and laps let a reader combine with live laps exactly
-- (mean = total / laps); mean_lap_ms is that quotient for this run.
CREATE TABLE view_race_driver_laps (
    run_id         bigint NOT NULL,
    race_id        text NOT NULL,
    driver_id      text NOT NULL,
    laps           bigint NOT NULL,
    best_lap_ms    bigint,
    total_lap_ms   bigint NOT NULL,
    mean_lap_ms    double precision,
    pit_stops      bigint NOT NULL,
    final_position integer,
    PRIMARY KEY (run_id, race_id, driver_id)
);
