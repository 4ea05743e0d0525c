/**
 * Every limit of the event contract, in one place. Ingest refuses (400) an event beyond any of them, so that an
 * event it accepts is one the processor can store; the processor applies the same values to what it reads from
 * Kafka. README.md documents each, with why it has the value it has.
 */
export const LIMITS = {
  /**
   * UTF-8 bytes of `id`, `source`, `type` and `subject`. They are btree index keys: (source, id) is the events
   * table's primary key, (type, minute, subject) rollup_minute_subjects'. PostgreSQL refuses an index entry larger
   * than 2704 bytes with 8 kB pages ("index row size 2776 exceeds btree version 4 maximum 2704", reproduced on
   * PostgreSQL 15.20 on 2026-12-05; the bound is a third of a page since btree version 4, PostgreSQL 12). Two
   * attributes of 1024 bytes plus the tuple header and a timestamp fit with room to spare, whatever the text.
   */
  keyAttributeBytes: 1024,
  /** Characters of an extension attribute's name: CloudEvents 1.0.2 §3.1.1 says SHOULD, the contract says MUST. */
  attributeNameLength: 20,
  /** Fractional-second digits of `time`: nanoseconds. PostgreSQL keeps microseconds; the rest is rounded half up. */
  timeFractionDigits: 9,
  /** First year of `time`: PostgreSQL's calendar has no year 0 (1 BC is followed by AD 1). RFC 3339 has 4-digit years. */
  timeMinYear: 1,
  /** Last year of `time`: RFC 3339's four-digit year. */
  timeMaxYear: 9999,
  /** Integer extension values: the CloudEvents Integer type (1.0.2 §3.1.1), a signed 32-bit integer. */
  integerMin: -2147483648,
  integerMax: 2147483647,
} as const;
