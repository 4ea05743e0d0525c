-- Type-minutes whose committed rollup may not have reached Redis yet. The batch transaction that moves a rollup
-- marks it here with the new count; a cache sync deletes the mark once Redis holds at least that count. A process
-- that dies between its PostgreSQL commit and its Redis write (or whose Redis write failed) leaves the mark, and
-- the next sync of any processor writes the committed value, so the cache is never left behind PostgreSQL.
CREATE TABLE rollup_cache_pending (
  type    text        NOT NULL,
  minute  timestamptz NOT NULL,
  -- The highest count committed for this type-minute that is not known to be in Redis.
  count   bigint      NOT NULL CHECK (count >= 0),
  PRIMARY KEY (type, minute)
);
