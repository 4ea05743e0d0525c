-- Raw events, keyed by the CloudEvents identity: a replayed or duplicated event is stored once.
CREATE TABLE events (
  source           text        NOT NULL,
  id               text        NOT NULL,
  type             text        NOT NULL,
  time             timestamptz NOT NULL,
  subject          text,
  datacontenttype  text,
  dataschema       text,
  data             bytea,
  extensions       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  -- Where the first delivery came from, for tracing a row back to the log.
  kafka_partition  integer     NOT NULL,
  kafka_offset     bigint      NOT NULL,
  stored_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, id)
);

-- One row per event type and UTC minute. Only events newly inserted into `events` change it, in the same
-- transaction, so a redelivered event never counts twice.
CREATE TABLE rollup_minute (
  type      text        NOT NULL,
  minute    timestamptz NOT NULL,
  count     bigint      NOT NULL CHECK (count >= 0),
  -- Exact number of distinct subjects seen in this type-minute (events without a subject do not count).
  subjects  bigint      NOT NULL CHECK (subjects >= 0),
  PRIMARY KEY (type, minute)
);

-- The set behind rollup_minute.subjects: a subject is counted when its (type, minute, subject) row is new.
CREATE TABLE rollup_minute_subjects (
  type     text        NOT NULL,
  minute   timestamptz NOT NULL,
  subject  text        NOT NULL,
  PRIMARY KEY (type, minute, subject)
);
