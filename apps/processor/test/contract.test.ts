// The event contract from the processor's side: every event ingest accepts (the contract's validation, the same
// code ingest runs) becomes, through the contract's Kafka binding, a record the processor decodes and turns into a
// row, on the fast way and the full way alike; every record beyond the contract's storage limits is refused with its
// exact reason. The conformance corpus first, then a property over generated events at the edges. No services
// needed (store-and-read against real Kafka and PostgreSQL is contract-e2e.test.ts).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { decodeJsonEvent, eventHeaders, keyOf, parseRfc3339, type CloudEvent } from "@eventstack/contract";
import { dataBytes, edgeEvent, loadCorpus, rawKafkaRecord } from "@eventstack/contract/testing";
import { BatchRows, type RowSource } from "../src/wire/index.js";
import { decodeCloudEvent } from "../src/cloudevents.js";
import { inPlace, toHeaderMap } from "./helpers.js";

const RECORD_TS = BigInt(Date.UTC(2025, 0, 15, 10, 30, 15, 250));
const DECODE = { maxEventDataBytes: 1024 * 1024 };

/** What ingest accepts of a JSON-format event: the contract's decoding, as its structured and batch modes run it. */
function ingestAccepts(event: Record<string, unknown>): CloudEvent | undefined {
  return decodeJsonEvent(event, dataBytes(event), 0, DECODE, "the body").event;
}

/** The record ingest writes for an accepted event: the contract's headers and key (kafka-record.ts adds transport headers). */
function recordOf(e: CloudEvent, offset = 7n): RowSource & { key: Buffer } {
  const headers = eventHeaders(e);
  headers.set("x-request-id", "req-1");
  return { key: Buffer.from(keyOf(e)), value: e.data ?? null, headers: toHeaderMap(Object.fromEntries(headers)), timestamp: RECORD_TS, partition: 1, offset };
}

/** Decodes and builds the row both ways; fails unless both accept and agree byte for byte. */
function assertStored(r: RowSource, accepted: CloudEvent, label: string): void {
  const decoded = decodeCloudEvent(r);
  if (!decoded.ok) assert.fail(`${label}: ingest accepted it, the processor refuses it: ${decoded.reason}: ${decoded.error}`);
  const e = decoded.event;
  assert.deepEqual([e.id, e.source, e.type, e.subject], [accepted.id, accepted.source, accepted.type, accepted.subject ?? null], label);
  if (accepted.time !== undefined) {
    const t = parseRfc3339(accepted.time);
    assert.ok(t.ok, label);
    assert.equal(e.timeMicros, t.micros, label);
  }
  const fast = new BatchRows();
  const rejected = fast.addCursor(inPlace(r));
  assert.equal(rejected, undefined, `${label}: the row building refused it: ${JSON.stringify(rejected)}`);
  const ref = new BatchRows();
  ref.addEvent(e, r.partition, r.offset, Number(r.timestamp));
  assert.deepEqual(fast.row(0), ref.row(0), `${label}: row bytes`);
  for (const k of ["keys", "types", "minutes", "subjects"] as const) assert.deepEqual(fast[k], ref[k], `${label}: ${k}`);
}

const { valid, invalid } = loadCorpus();

describe("the conformance corpus, as the processor reads it", () => {
  for (const c of valid) {
    test(`valid: ${c.name}`, () => {
      const accepted = ingestAccepts(c.event);
      assert.ok(accepted, "the contract accepts it");
      assertStored(recordOf(accepted), accepted, c.name);
    });
  }

  for (const c of invalid.filter((i) => i.processor !== undefined)) {
    test(`invalid: ${c.name}: ${c.processor === null ? "a rule of ingest's alone, stored if it came" : "refused with the reason"}`, () => {
      assert.equal(ingestAccepts(c.event), undefined, "the contract refuses it");
      const raw = rawKafkaRecord(c.event);
      const r: RowSource = { value: raw.value, headers: toHeaderMap(Object.fromEntries(raw.headers)), timestamp: RECORD_TS, partition: 0, offset: 3n };
      const decoded = decodeCloudEvent(r);
      const fast = new BatchRows().addCursor(inPlace(r));
      if (c.processor === null) {
        assert.ok(decoded.ok, decoded.ok ? "" : decoded.error);
        assert.equal(fast, undefined);
      } else {
        assert.deepEqual(decoded.ok ? "accepted" : decoded.error, c.processor);
        assert.equal(fast?.error, c.processor, "the fast way refuses it with the same reason");
      }
    });
  }
});

describe("generated events at the contract's edges", () => {
  test("every event ingest accepts is decoded and becomes a row; every record the processor refuses was refused by ingest", () => {
    let seq = 0;
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(edgeEvent(() => seq++), (event) => {
        const accepted = ingestAccepts(event);
        const raw = rawKafkaRecord(event);
        const asSent: RowSource = { value: raw.value, headers: toHeaderMap(Object.fromEntries(raw.headers)), timestamp: RECORD_TS, partition: 0, offset: 1n };
        if (accepted) {
          seen.accepted++;
          assertStored(recordOf(accepted), accepted, JSON.stringify(event).slice(0, 200));
        } else {
          seen.refused++;
          // Nothing of a refused event reaches Kafka; and the processor refuses nothing that ingest lets through:
          // a record it would refuse must have been refused by ingest already (this one was).
        }
        const processorVerdict = decodeCloudEvent(asSent);
        if (!processorVerdict.ok) assert.equal(accepted, undefined, `the processor refuses what ingest accepted: ${processorVerdict.error}`);
      }),
      { numRuns: 2_000 },
    );
    // The generator reaches both sides of the contract often enough for the property to mean something.
    assert.ok(seen.accepted > 400 && seen.refused > 400, JSON.stringify(seen));
  });
});
