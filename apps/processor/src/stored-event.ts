// What the store takes in and gives back, apart from store.ts so that write-batch.ts, which store.ts imports, can name
// them without importing store.ts back.
import type { CloudEvent } from "./cloudevents.js";

/** A type-minute rollup as PostgreSQL holds it after a commit: the authoritative value for the cache. */
export interface MinuteRollup {
  type: string;
  minute: Date;
  count: number;
  subjects: number;
}

export interface StoredEvent {
  event: CloudEvent;
  partition: number;
  offset: bigint;
}
