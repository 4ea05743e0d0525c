/**
 * The processor's code below its Kafka and PostgreSQL clients, behind one door: everything outside wire/ imports
 * from here, and only what it uses is exported. What each file relies on in @platformatic/kafka, pg and pg-protocol,
 * and which tests pin it, is in README.md beside this file.
 */
export { binaryArray } from "./binary-array.js";
export { assemble, BatchRows, releasePrepared, type PreparedBatch, type RowSource } from "./batch-rows.js";
export { BinaryCopyWriter } from "./copy-binary.js";
export { rawFetchV17 } from "./fetch-response.js";
export { RecordFetcher, SESSIONLESS_FETCH } from "./fetcher.js";
export { oneTrip, type BatchTrip } from "./one-trip.js";
export { BATCH, RecordCursor, type FetchedRecord, type RecordChunk } from "./record-batches.js";
export { emptyPgTime, pgTimeFromBytes, type PgTime } from "./timestamp.js";
export { CREATE_STAGING, isUniqueViolation, prepareBatch, writeByCopy, writeByMerge } from "./write-batch.js";
