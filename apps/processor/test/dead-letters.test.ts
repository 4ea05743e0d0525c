// Poison records go to the dead-letter topic with their original bytes and headers plus the reason, are
// counted, and do not stop the partition: the good records after them are stored and committed.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startService, type Service } from "../src/service.js";
import { binaryRecord, committedOffsets, createTestEnv, produce, query, quietLog, readTopic, servicesUp, toHeaderMap, totals, waitFor, type TestEnv } from "./helpers.js";

let t: TestEnv;
let service: Service;

before(async () => {
  await servicesUp();
  t = await createTestEnv("dlq", { KAFKA_TOPIC_PARTITIONS: "1" });
  // A constraint of this test's database that one event breaks: PostgreSQL refuses that row, which the
  // decoder cannot know (as a future constraint, or a limit of the server, would).
  await query(t.database, "ALTER TABLE events ADD CONSTRAINT test_refuses_one CHECK (id <> 'refused-by-postgres')");
  service = await startService(t.config, quietLog, { listen: false });
});

after(async () => {
  await service?.stop();
  await t?.cleanup();
});

test("poison records are dead-lettered with reasons and the partition keeps moving", async () => {
  const topic = t.config.kafka.eventsTopic;
  const good = (id: string) => binaryRecord(topic, { id, time: "2025-01-15T10:00:00Z", subject: "s" });
  const poison = [
    // Structured mode whose value is not JSON.
    { topic, key: Buffer.from("k-json"), value: Buffer.from("{not json"), headers: toHeaderMap({ "content-type": "application/cloudevents+json" }) },
    // Binary mode without the required type attribute.
    { topic, key: Buffer.from("k-type"), value: Buffer.from("{}"), headers: toHeaderMap({ ce_specversion: "1.0", ce_id: "x", ce_source: "/s", "x-app": "keep-me" }) },
    // Not a CloudEvent at all.
    { topic, key: Buffer.from("k-plain"), value: Buffer.from([0xff, 0x00, 0x7f]), headers: new Map<Buffer, Buffer>() },
    // A time that does not exist: refused by the decoder with the reason, not stored as some other day.
    binaryRecord(topic, { id: "feb-30", time: "2025-02-30T10:00:00Z" }),
    // Valid to the decoder, refused by PostgreSQL: found by bisecting the batch.
    binaryRecord(topic, { id: "refused-by-postgres", time: "2025-01-15T10:00:00Z" }),
  ];
  // One partition: offsets 0 good, 1-5 poison, 6-7 good.
  await produce(t.config, [good("g1"), ...poison, good("g2"), good("g3")]);

  await waitFor("8 offsets committed", async () => (await committedOffsets(t.config)).get(0) === 8n || undefined);
  assert.deepEqual(await totals(t.database), { events: 3, rollup: 3 });

  const dead = await readTopic(t.config, t.config.kafka.dlqTopic, 5);
  const header = (m: (typeof dead)[number], k: string) => {
    for (const [hk, hv] of m.headers) if (hk.toString() === k) return hv?.toString();
    return undefined;
  };
  const byOffset = new Map(dead.map((m) => [header(m, "dlq_offset"), m]));
  assert.deepEqual([...byOffset.keys()].sort(), ["1", "2", "3", "4", "5"]);
  for (const m of dead) {
    assert.equal(header(m, "dlq_source_topic"), topic);
    assert.equal(header(m, "dlq_partition"), "0");
    assert.equal(header(m, "dlq_consumer_group"), t.config.kafka.groupId);
  }

  const json = byOffset.get("1")!;
  assert.deepEqual(json.key, Buffer.from("k-json"));
  assert.deepEqual(json.value, Buffer.from("{not json"));
  assert.equal(header(json, "content-type"), "application/cloudevents+json");
  assert.equal(header(json, "dlq_reason"), "undecodable");
  assert.match(header(json, "dlq_error") ?? "", /^value is not valid JSON: /);

  const missingType = byOffset.get("2")!;
  assert.equal(header(missingType, "dlq_reason"), "invalid_cloudevent");
  assert.equal(header(missingType, "dlq_error"), "header ce_type is missing");
  assert.equal(header(missingType, "x-app"), "keep-me");
  assert.equal(header(missingType, "ce_id"), "x");

  const plain = byOffset.get("3")!;
  assert.deepEqual(plain.value, Buffer.from([0xff, 0x00, 0x7f]));
  assert.equal(header(plain, "dlq_reason"), "undecodable");
  assert.equal(
    header(plain, "dlq_error"),
    "not a CloudEvent: no ce_specversion header (binary mode) and content-type is absent, not application/cloudevents+json (structured mode)",
  );

  const badDay = byOffset.get("4")!;
  assert.equal(header(badDay, "dlq_reason"), "invalid_cloudevent");
  assert.equal(header(badDay, "dlq_error"), 'header ce_time is not an RFC 3339 timestamp (day 30 does not exist in 2025-02): "2025-02-30T10:00:00Z"');

  const rejected = byOffset.get("5")!;
  assert.equal(header(rejected, "dlq_reason"), "store_rejected");
  assert.equal(header(rejected, "ce_id"), "refused-by-postgres");
  assert.equal(header(rejected, "dlq_error"), 'PostgreSQL rejected the event: new row for relation "events" violates check constraint "test_refuses_one"');

  const counted = Object.fromEntries((await service.metrics.deadLetters.get()).values.map((v) => [v.labels.reason, v.value]));
  assert.deepEqual(counted, { undecodable: 2, invalid_cloudevent: 2, store_rejected: 1 });
});
