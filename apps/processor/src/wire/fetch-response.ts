/**
 * A Fetch v17 response with each partition's records field kept as bytes, for the record cursor
 * (record-batches.ts) to read in place.
 *
 * The client parses every record of a response into an object with a Buffer view for its key, its value and
 * each header name and value (@platformatic/kafka protocol/records.js), a dozen or more allocations per record,
 * which the consumer would then read once and drop. Here the response is read by the client's own Reader, field
 * by field as the client's fetch-v17.js reads it, except each partition's records field, which is kept as one
 * Buffer. The request is the client's own encoding (fetchV17.createRequest), and the API is built by the client's
 * createAPI, so connections, correlation and retries stay the client's. README.md lists what this relies on.
 */
import { createAPI, fetchV17, ResponseError, type Reader } from "@platformatic/kafka";

/** One partition of a raw Fetch response: its records field as it came. */
export interface RawFetchPartition {
  partitionIndex: number;
  errorCode: number;
  highWatermark: bigint;
  records: Buffer | null;
}

export interface RawFetchResponse {
  throttleTimeMs: number;
  errorCode: number;
  sessionId: number;
  responses: { topicId: string; partitions: RawFetchPartition[] }[];
}

/**
 * Fetch Response v17, as the client's fetch-v17.js reads it, but with each partition's records kept as bytes.
 * Errors are raised the same way (a ResponseError naming every failed partition), so the client's retry rules
 * (canRetry, stale metadata) apply to them unchanged.
 */
function parseRawFetchResponse(_correlationId: number, apiKey: number, apiVersion: number, reader: Reader): RawFetchResponse {
  const errors: [string, [number, null]][] = [];
  const throttleTimeMs = reader.readInt32();
  const errorCode = reader.readInt16();
  if (errorCode !== 0) errors.push(["", [errorCode, null]]);
  const response: RawFetchResponse = {
    throttleTimeMs,
    errorCode,
    sessionId: reader.readInt32(),
    responses: reader.readArray((r, i) => ({
      topicId: r.readUUID(),
      partitions: r.readArray((r, j) => {
        const partitionIndex = r.readInt32();
        const partitionError = r.readInt16();
        const highWatermark = r.readInt64();
        r.readInt64(); // last_stable_offset
        r.readInt64(); // log_start_offset
        r.readArray((r) => {
          r.readInt64(); // aborted transactions: producer_id, first_offset
          r.readInt64();
        });
        r.readInt32(); // preferred_read_replica
        if (partitionError !== 0) errors.push([`/responses/${i}/partitions/${j}`, [partitionError, null]]);
        // COMPACT_RECORDS: the length is stored plus one.
        const size = r.readUnsignedVarInt() - 1;
        let records: Buffer | null = null;
        if (size > 0) {
          // One contiguous Buffer (the response may span several socket chunks; then this copies once).
          records = r.buffer.slice(r.position, r.position + size);
          r.skip(size);
        }
        return { partitionIndex, errorCode: partitionError, highWatermark, records };
      }),
    })),
  };
  if (errors.length > 0) throw new ResponseError(apiKey, apiVersion, Object.fromEntries(errors), response);
  return response;
}

/** Fetch v17 (Kafka 3.9 and later, MSK 3.9.x): the client's request encoding, the parser above. */
export const rawFetchV17 = createAPI<Parameters<typeof fetchV17.createRequest>, RawFetchResponse>(1, 17, fetchV17.createRequest, parseRawFetchResponse);
