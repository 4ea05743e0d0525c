// A 202 means stored: ingest and the processor in-process against the real local Kafka, PostgreSQL and Redis. The
// corpus' valid events in every content mode, the largest event the default limits admit and a sample of generated
// events at the contract's edges go through ingest's HTTP API; every event answered 202 must be in the events
// table, at its instant, and nothing may reach the dead-letter topic. The corpus' invalid events must be answered
// 400 and produce nothing.
import assert from "node:assert/strict";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { Consumer } from "@platformatic/kafka";
import { parseRfc3339 } from "@eventstack/contract";
import { edgeEvent, httpRequest, loadCorpus, MODES, type Mode } from "@eventstack/contract/testing";
import { startService, type Service } from "../src/service.js";
import { committedOffsets, createTestEnv, packageDir, query, quietLog, servicesUp, sumOffsets, unique, waitFor, type TestEnv } from "./helpers.js";

/** The slice of ingest's compiled app this test drives (apps/ingest/dist, built before the services' tests run). */
interface IngestApp {
  inject(req: { method: "POST"; url: string; headers: Record<string, string>; payload: Buffer }): Promise<{ statusCode: number; body: string }>;
  ready(): Promise<unknown>;
  close(): Promise<unknown>;
}
interface IngestModules {
  app: { buildApp(config: unknown): Promise<IngestApp> };
  config: { loadConfig(env: Record<string, string>): unknown };
}

async function loadIngest(): Promise<IngestModules> {
  const dist = path.resolve(packageDir, "../ingest/dist/src");
  const load = (file: string) => import(pathToFileURL(path.join(dist, file)).href);
  try {
    return { app: await load("app.js"), config: await load("config.js") };
  } catch (err) {
    throw new Error(`ingest is not built (${dist}): run npm run build -w apps/ingest first (${(err as Error).message})`);
  }
}

let t: TestEnv;
let processor: Service;
let ingest: IngestApp;

before(async () => {
  await servicesUp();
  t = await createTestEnv("contract");
  processor = await startService(t.config, quietLog, { listen: false });
  const { app, config } = await loadIngest();
  ingest = await app.buildApp(config.loadConfig({ KAFKA_BOOTSTRAP: t.env.KAFKA_BOOTSTRAP as string, EVENTS_TOPIC: t.config.kafka.eventsTopic, LOG_LEVEL: "silent", PORT: "0" }));
  await ingest.ready();
});

after(async () => {
  await ingest?.close();
  await processor?.stop();
  await t?.cleanup();
});

/** Records ever written to a topic: the sum of its partitions' end offsets. */
async function recordCount(topic: string): Promise<number> {
  const consumer = new Consumer({ clientId: "contract-offsets", groupId: unique("offsets"), bootstrapBrokers: t.config.kafka.brokers });
  try {
    const offsets = await consumer.listOffsets({ topics: [topic] });
    return (offsets.get(topic) ?? []).reduce((sum, o) => sum + Number(o), 0);
  } finally {
    await consumer.close();
  }
}

const post = (event: Record<string, unknown>, mode: Mode) => {
  const { headers, body } = httpRequest(event, mode);
  return ingest.inject({ method: "POST", url: "/v1/events", headers, payload: body });
};

test("every event answered 202 is stored at its instant, none is dead-lettered; refused events produce nothing", async () => {
  const { valid, invalid } = loadCorpus();
  /** (source, id) → the expected instant in epoch microseconds (undefined without a time: the record's timestamp). */
  const stored = new Map<string, bigint | undefined>();
  let produced = 0;
  const accept = async (event: Record<string, unknown>, mode: Mode, label: string, mustAccept: boolean) => {
    const res = await post(event, mode);
    if (res.statusCode !== 202) {
      assert.ok(!mustAccept, `${label} (${mode}): ${res.statusCode} ${res.body}`);
      assert.equal(res.statusCode, 400, `${label} (${mode}): ${res.body}`);
      return;
    }
    produced++;
    const key = `${event.source as string}\u0000${event.id as string}`;
    // A repeated (source, id) is one event: the first delivery stays.
    if (!stored.has(key)) stored.set(key, typeof event.time === "string" ? (parseRfc3339(event.time) as { micros: bigint }).micros : undefined);
  };

  for (const c of valid) for (const mode of c.modes) await accept(c.event, mode, c.name, true);
  // The largest event ingest's default limits admit: data at MAX_EVENT_DATA_BYTES (64 KiB) and an extension that
  // brings its Kafka record near KAFKA_MAX_BATCH_BYTES (1,000,000 bytes), in a body under MAX_BODY_BYTES (1 MiB).
  const largest = { specversion: "1.0", id: "largest", source: "/contract/e2e", type: "t", datacontenttype: "text/plain", data: "d".repeat(64 * 1024), big: "b".repeat(900_000) };
  await accept(largest, "structured", "the largest event", true);
  // A sample of generated events, about half of them beyond the contract: those are answered 400.
  let seq = 0;
  const sample = fc.sample(edgeEvent(() => seq++), { numRuns: 300, seed: 20261205 });
  for (const [i, event] of sample.entries()) await accept(event, MODES[i % MODES.length] as Mode, `generated #${i}`, false);
  assert.ok(stored.size > valid.length + 80, `${stored.size} distinct events accepted`);

  for (const c of invalid) {
    for (const mode of c.modes) {
      const res = await post(c.event, mode);
      assert.equal(res.statusCode, 400, `${c.name} (${mode}): ${res.body}`);
    }
  }
  // Nothing but the 202'd events reached the events topic.
  assert.equal(await recordCount(t.config.kafka.eventsTopic), produced);

  await waitFor("every record consumed and committed", async () => sumOffsets(await committedOffsets(t.config)) === produced || undefined, 120_000);
  assert.equal(await recordCount(t.config.kafka.dlqTopic), 0, "nothing was dead-lettered");

  const rows = await query<{ source: string; id: string; micros: string }>(t.database, "SELECT source, id, (extract(epoch FROM time) * 1000000)::int8::text AS micros FROM events");
  const inDb = new Map(rows.map((r) => [`${r.source}\u0000${r.id}`, BigInt(r.micros)]));
  assert.equal(inDb.size, stored.size, "every accepted event is stored, and nothing else");
  const [big] = await query<{ data: number; big: number }>(t.database, "SELECT length(data) AS data, length(extensions->>'big') AS big FROM events WHERE id = 'largest'");
  assert.deepEqual(big, { data: 64 * 1024, big: 900_000 }, "the largest event is stored whole");
  for (const [key, micros] of stored) {
    assert.ok(inDb.has(key), `not stored: ${JSON.stringify(key.slice(0, 120))}`);
    if (micros !== undefined) assert.equal(inDb.get(key), micros, `stored at another instant: ${JSON.stringify(key.slice(0, 120))}`);
  }
});
