/**
 * The Kafka client's idempotent producer against the real local broker, used directly (no app): the two client
 * bugs src/kafka.ts was once built around, asserted as the behaviour the service relies on.
 *
 *   platformatic/kafka#326: concurrent send() calls from one idempotent producer to one partition. The client
 *   must give each its own sequence numbers; 1.35 read the sequence when it built a request and advanced it only
 *   on the response, so concurrent requests carried the same sequence and the broker acknowledged all but the first
 *   as duplicates without writing them (20 sends, 20 acknowledgements, 1 record).
 *
 *   platformatic/kafka#309: the broker's state for the producer id no longer matches the client's (a request the
 *   client took for failed did land, the broker lost the producer's state): the broker answers
 *   OUT_OF_ORDER_SEQUENCE_NUMBER (or UNKNOWN_PRODUCER_ID). The client must recover (a new producer id, sequences
 *   from 0); 1.35 kept the producer id and sequences and failed every later send to that partition.
 *
 * Fixed in @platformatic/kafka 2.x (#310: sequences claimed when a request is built, producer state reset after a
 * failed request, a new producer id and one resend on UNKNOWN_PRODUCER_ID / OUT_OF_ORDER_SEQUENCE_NUMBER).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ProduceAcks, Producer, stringSerializer } from "@platformatic/kafka";
import { BOOTSTRAP, createTopic, readTopic, servicesUp, uniqueTopic } from "./helpers.js";

type Client = Producer<string, string, string, string>;

const producers: Client[] = [];

function producer(idempotent: boolean): Client {
  const p = new Producer<string, string, string, string>({
    clientId: "ingest-test-client-bugs",
    bootstrapBrokers: [BOOTSTRAP],
    idempotent,
    acks: ProduceAcks.ALL,
    autocreateTopics: false,
    retries: 0,
    serializers: { key: stringSerializer, value: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
  });
  producers.push(p);
  return p;
}

/** The error and its causes, with the Kafka error code names (apiId) the client attaches: what the broker said. */
function describe(err: unknown): string {
  const e = err as Error & { errors?: unknown[]; apiId?: string };
  const own = e.apiId ? `${e.message} [${e.apiId}]` : String(e?.message ?? err);
  const inner = (e.errors ?? []).map(describe);
  return inner.length > 0 ? `${own} (${inner.join("; ")})` : own;
}

function values(records: { value: Buffer | null }[]): string[] {
  return records.map((r) => r.value?.toString("utf8") ?? "<null>");
}

before(servicesUp);
after(async () => {
  await Promise.all(producers.map((p) => new Promise<void>((resolve) => p.close(true, () => resolve()))));
});

test("#326: 20 concurrent idempotent sends to one partition: 20 acknowledgements, 20 records, in send order", async () => {
  const topic = uniqueTopic("client-326");
  await createTopic(topic, 1);
  const p = producer(true);
  const sent = Array.from({ length: 20 }, (_, i) => `event-${i}`);
  const results = await Promise.allSettled(sent.map((value) => p.send({ messages: [{ topic, key: "one-key", value, partition: 0 }] })));
  const acknowledged = results.flatMap((r, i) => (r.status === "fulfilled" ? [sent[i] as string] : []));
  assert.equal(acknowledged.length, 20, `every send is acknowledged: ${JSON.stringify(results.filter((r) => r.status === "rejected"))}`);
  const offsets = results.map((r) => (r.status === "fulfilled" ? String(r.value.offsets?.[0]?.offset) : "rejected"));
  assert.equal(new Set(offsets).size, 20, `each acknowledgement names its own offset, got ${offsets.join(",")}`);
  // Every acknowledged record is on the topic, and one key's records are in the order they were sent.
  assert.deepEqual(values(await readTopic(topic)), sent);
});

test("#309: after OUT_OF_ORDER_SEQUENCE_NUMBER the idempotent producer recovers; every acknowledged record lands", async () => {
  const topic = uniqueTopic("client-309");
  await createTopic(topic, 1);
  const p = producer(true);
  // The producer's id and epoch, before it sent anything (its sequence for the partition is 0).
  const { producerId, producerEpoch } = await p.initIdempotentProducer({});
  // The broker's state for that producer id moves on without the client: 3 records at sequences 0..2, as a request
  // the client took for failed would have left it. The client's next request (sequence 0) is then out of order.
  const other = producer(false);
  await other.send({ messages: ["landed-0", "landed-1", "landed-2"].map((value) => ({ topic, key: "one-key", value, partition: 0 })), producerId, producerEpoch });

  // The first send meets the broker's OUT_OF_ORDER_SEQUENCE_NUMBER: the producer may answer it with an error, or
  // recover and write it; either way the sends after it must be acknowledged and written, in order.
  const first = await p.send({ messages: [{ topic, key: "one-key", value: "after-fault-0", partition: 0 }] }).then(
    () => "acknowledged",
    (err: unknown) => `rejected: ${describe(err)}`,
  );
  const later: string[] = [];
  for (let i = 1; i <= 3; i++) {
    const value = `after-fault-${i}`;
    try {
      await p.send({ messages: [{ topic, key: "one-key", value, partition: 0 }] });
    } catch (err) {
      assert.fail(`send ${i} after the fault (the first one was ${first}) failed: ${describe(err)}`);
    }
    later.push(value);
  }
  const expected = ["landed-0", "landed-1", "landed-2", ...(first === "acknowledged" ? ["after-fault-0"] : []), ...later];
  assert.deepEqual(values(await readTopic(topic)), expected);
});
