-- The RSVP feed in third normal form.
--
-- Every table keeps, per row, the lake position of the record its attributes
-- come from (src_time, src_partition, src_offset): a newer position replaces
-- the attributes, an older one never does. That one rule makes a run
-- incremental and order-independent: loading the lake in any number of runs
-- gives the rows one run over all of it gives. For RSVPs, src_time is the
-- RSVP's mtime, so "latest mtime wins; a tie goes to the later lake position".
-- Keys are the feed's own ids (never sequences: a rolled-back run would
-- consume sequence values and a rerun would number rows differently).

CREATE TABLE countries (
    country_code   text PRIMARY KEY            -- ISO 3166 alpha-2, lower case as the feed sends it
);

-- state is '' where the feed sends none (only some countries have states);
-- city names repeat across states and countries, so all three form the key.
CREATE TABLE cities (
    country_code   text NOT NULL REFERENCES countries,
    state          text NOT NULL,
    city           text NOT NULL,
    PRIMARY KEY (country_code, state, city)
);

CREATE TABLE groups (
    group_id       bigint PRIMARY KEY,
    group_name     text NOT NULL,
    group_urlname  text NOT NULL,
    lat            double precision NOT NULL,
    lon            double precision NOT NULL,
    country_code   text NOT NULL,
    state          text NOT NULL,
    city           text NOT NULL,
    src_time       timestamptz NOT NULL,
    src_partition  integer NOT NULL,
    src_offset     bigint NOT NULL,
    FOREIGN KEY (country_code, state, city) REFERENCES cities
);
CREATE INDEX groups_city ON groups (country_code, state, city);

CREATE TABLE topics (
    urlkey         text PRIMARY KEY,
    topic_name     text NOT NULL,
    src_time       timestamptz NOT NULL,
    src_partition  integer NOT NULL,
    src_offset     bigint NOT NULL
);

-- A group's topics as of the group's newest record (a newer record replaces the set).
CREATE TABLE group_topics (
    group_id       bigint NOT NULL REFERENCES groups,
    urlkey         text NOT NULL REFERENCES topics,
    PRIMARY KEY (group_id, urlkey)
);
CREATE INDEX group_topics_topic ON group_topics (urlkey);

CREATE TABLE members (
    member_id      bigint PRIMARY KEY,
    member_name    text NOT NULL,
    photo          text,
    src_time       timestamptz NOT NULL,
    src_partition  integer NOT NULL,
    src_offset     bigint NOT NULL
);

-- lat = lon = 0 is Meetup's "unknown location" placeholder, kept as sent.
CREATE TABLE venues (
    venue_id       bigint PRIMARY KEY,
    venue_name     text NOT NULL,
    lat            double precision NOT NULL,
    lon            double precision NOT NULL,
    src_time       timestamptz NOT NULL,
    src_partition  integer NOT NULL,
    src_offset     bigint NOT NULL
);

CREATE TABLE events (
    event_id       text PRIMARY KEY,           -- numeric or alphanumeric (recurring events)
    event_name     text NOT NULL,
    event_url      text NOT NULL,
    event_time     timestamptz,                -- absent for 0.5 % of real records
    group_id       bigint NOT NULL REFERENCES groups,
    venue_id       bigint REFERENCES venues,   -- absent for 20 % of real records
    src_time       timestamptz NOT NULL,
    src_partition  integer NOT NULL,
    src_offset     bigint NOT NULL
);
CREATE INDEX events_group ON events (group_id);
CREATE INDEX events_venue ON events (venue_id);
CREATE INDEX events_time ON events (event_time);

-- The fact table: one row per RSVP id, its latest version.
CREATE TABLE rsvps (
    rsvp_id        bigint PRIMARY KEY,
    mtime          timestamptz NOT NULL,
    response       text NOT NULL CHECK (response IN ('yes', 'no')),
    guests         integer NOT NULL,
    visibility     text NOT NULL,
    member_id      bigint NOT NULL REFERENCES members,
    event_id       text NOT NULL REFERENCES events,
    src_partition  integer NOT NULL,
    src_offset     bigint NOT NULL
);
CREATE INDEX rsvps_event ON rsvps (event_id);
CREATE INDEX rsvps_member ON rsvps (member_id);
CREATE INDEX rsvps_mtime ON rsvps (mtime);
