/**
 * The service's produce path below the client library (src/wire/idempotent-sender.ts) against the real local
 * broker: where records land, every Produce version the broker speaks, and the idempotent producer's two duties
 * the client library once got wrong, ported from their reproductions:
 *
 *   platformatic/kafka#326: concurrent sends from one idempotent producer to one partition must each carry their own
 *   sequence numbers (1.35 gave concurrent requests the same sequence; the broker acknowledged all but the first as
 *   duplicates without writing them: 20 sends, 20 acknowledgements, 1 record).
 *
 *   platformatic/kafka#309: when the broker's state for the producer id no longer matches the producer's (a request
 *   taken for failed did land; the broker lost the producer's state), the broker answers OUT_OF_ORDER_SEQUENCE_NUMBER
 *   or UNKNOWN_PRODUCER_ID, and the producer must start over (a new producer id, sequences from 0) instead of
 *   failing every later send to that partition.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { compatibilityPartitioner, ProduceAcks, Producer, stringSerializer } from "@platformatic/kafka";
import type { KafkaRecord } from "../src/kafka-record.js";
import { encodeRecordBatch, IdempotentSender, produceRequest, sendProduce } from "../src/wire/index.js";
import { BOOTSTRAP, createTopic, readTopic, servicesUp, uniqueTopic, type ReadRecord } from "./helpers.js";

type Client = Producer<Buffer, Buffer, string, string>;
const clients: Client[] = [];

function client(idempotent = true): Client {
  const c = new Producer<Buffer, Buffer, string, string>({
    clientId: "ingest-test-produce-path",
    bootstrapBrokers: [BOOTSTRAP],
    idempotent,
    acks: ProduceAcks.ALL,
    autocreateTopics: false,
    partitioner: compatibilityPartitioner,
    serializers: { headerKey: stringSerializer, headerValue: stringSerializer },
  });
  clients.push(c);
  return c;
}

/** The client's connection to the local broker (the one broker, so every partition's leader). */
function brokerConnection(c: Client) {
  return c.connections.get({ host: BOOTSTRAP.split(":")[0] as string, port: Number(BOOTSTRAP.split(":")[1]) });
}

function sender(topic: string, c: Client = client(), version?: number): IdempotentSender {
  return new IdempotentSender({ client: c, topic, acks: ProduceAcks.ALL, timeoutMs: 10_000, retries: 3, retryDelayMs: 250, ...(version === undefined ? {} : { version }) });
}

function record(key: string, value: string | null, headers: Record<string, string> = {}): KafkaRecord {
  const h = new Map(Object.entries(headers));
  let size = 36 + Buffer.byteLength(key) + (value === null ? 0 : Buffer.byteLength(value));
  for (const [k, v] of h) size += 10 + Buffer.byteLength(k) + Buffer.byteLength(v);
  return { key: Buffer.from(key), value: value === null ? null : Buffer.from(value), headers: h, size };
}

function values(records: ReadRecord[]): string[] {
  return records.map((r) => r.value?.toString("utf8") ?? "<null>");
}

/** What a test compares of a record read back: where it is and what it holds, not its offset. */
function content(r: ReadRecord): string {
  return JSON.stringify([r.partition, r.key, r.value?.toString("utf8") ?? null, r.headers]);
}

before(servicesUp);
after(async () => {
  await Promise.all(clients.map((c) => new Promise<void>((resolve) => c.close(true, () => resolve()))));
});

test("records land where, and as, the client library's own producer puts them", async () => {
  const ours = uniqueTopic("path-ours");
  const theirs = uniqueTopic("path-library");
  await Promise.all([createTopic(ours, 6), createTopic(theirs, 6)]);
  const records = Array.from({ length: 60 }, (_, i) => record(`entity-${i % 17}`, i % 10 === 0 ? null : `value-${i}`, { ce_id: String(i), ce_subject: `größe-${i}` }));
  await sender(ours).send(records);
  await client().send({ messages: records.map((r) => ({ topic: theirs, key: r.key, value: r.value as Buffer, headers: r.headers })) });
  const [a, b] = await Promise.all([readTopic(ours), readTopic(theirs)]);
  assert.equal(a.length, 60);
  assert.deepEqual(a.map(content), b.map(content));
  assert.ok(new Set(a.map((r) => r.partition)).size > 1, "the keys spread over several partitions");
});

for (const version of [3, 4, 5, 6, 7, 8, 10, 11]) {
  test(`Produce v${version}: the records land, in order`, async () => {
    const topic = uniqueTopic(`path-v${version}`);
    await createTopic(topic, 2);
    const s = sender(topic, client(), version);
    await s.send([record("a", "1"), record("a", "2"), record("b", "3", { h: "v" })]);
    await s.send([record("a", "4")]);
    const read = await readTopic(topic);
    assert.deepEqual(read.filter((r) => r.key === "a").map((r) => r.value?.toString()), ["1", "2", "4"]);
    assert.deepEqual(read.filter((r) => r.key === "b").map((r) => [r.value?.toString(), r.headers]), [["3", { h: "v" }]]);
  });
}

test("#326: 20 concurrent sends to one partition: 20 acknowledgements, 20 records, in send order", async () => {
  const topic = uniqueTopic("path-326");
  await createTopic(topic, 1);
  const s = sender(topic);
  const sent = Array.from({ length: 20 }, (_, i) => `event-${i}`);
  const results = await Promise.allSettled(sent.map((value) => s.send([record("one-key", value)])));
  assert.deepEqual(results.filter((r) => r.status === "rejected"), [], "every send is acknowledged");
  assert.deepEqual(values(await readTopic(topic)), sent);
});

test("#309: after OUT_OF_ORDER_SEQUENCE_NUMBER the send fails, the producer starts over, and later sends land", async () => {
  const topic = uniqueTopic("path-309");
  await createTopic(topic, 1);
  const c = client();
  const s = sender(topic, c);
  await s.send([record("one-key", "first")]); // sequence 0 under the producer's id
  const producerId = c.producerId as bigint;
  const producerEpoch = c.producerEpoch as number;
  // The broker's state for that producer id moves on without the sender: sequences 1..3 land, as a request the sender
  // took for failed would have left them. The sender's next batch (sequence 1) is then out of order.
  const connection = await brokerConnection(c);
  const moved = encodeRecordBatch(["landed-1", "landed-2", "landed-3"].map((v) => record("one-key", v)), { producerId, producerEpoch, baseSequence: 1, timestamp: Date.now() });
  await new Promise<void>((resolve, reject) => sendProduce(connection, 11, produceRequest(11, -1, 10_000, topic, [{ partition: 0, batch: moved }]), (e) => (e ? reject(e) : resolve())));

  await assert.rejects(s.send([record("one-key", "after-fault-0")]), (e: Error & { errors?: { apiId?: string }[]; apiId?: string }) => {
    assert.equal(e.apiId, "OUT_OF_ORDER_SEQUENCE_NUMBER");
    return true;
  });
  for (let i = 1; i <= 3; i++) await s.send([record("one-key", `after-fault-${i}`)]);
  assert.notEqual(c.producerId, producerId, "a new producer id");
  assert.deepEqual(values(await readTopic(topic)), ["first", "landed-1", "landed-2", "landed-3", "after-fault-1", "after-fault-2", "after-fault-3"]);
});

test("a batch sent twice with the same producer id and sequence is written once (what a resend relies on)", async () => {
  const topic = uniqueTopic("path-resend");
  await createTopic(topic, 1);
  const c = client();
  const { producerId, producerEpoch } = await c.initIdempotentProducer({});
  const connection = await brokerConnection(c);
  const batch = encodeRecordBatch([record("k", "once-0"), record("k", "once-1")], { producerId, producerEpoch, baseSequence: 0, timestamp: Date.now() });
  const send = () =>
    new Promise<void>((resolve, reject) => sendProduce(connection, 11, produceRequest(11, -1, 10_000, topic, [{ partition: 0, batch }]), (e) => (e ? reject(e) : resolve())));
  await send();
  await send();
  assert.deepEqual(values(await readTopic(topic)), ["once-0", "once-1"]);
});

/** Makes the next request written on `connection` reach the broker and the connection close before its answer; returns how many were cut. */
function cutAfterNextWrite(connection: Awaited<ReturnType<typeof brokerConnection>>): () => number {
  const socket = connection.socket;
  const write = socket.write.bind(socket) as (chunk: unknown) => boolean;
  let cut = 0;
  socket.write = ((chunk: unknown) => {
    const written = write(chunk);
    cut++;
    process.nextTick(() => socket.destroy());
    return written;
  }) as typeof socket.write;
  return () => cut;
}

test("a connection lost after the batch was written: the sender resends the same batch on a new connection, and the broker writes it once", async () => {
  const topic = uniqueTopic("path-lost");
  await createTopic(topic, 1);
  const c = client();
  const s = sender(topic, c);
  await s.send([record("k", "before")]);
  const producerId = c.producerId;
  const connection = await brokerConnection(c);
  const cuts = cutAfterNextWrite(connection);
  await s.send([record("k", "lost-answer-0"), record("k", "lost-answer-1")]);
  await s.send([record("k", "after")]);
  assert.equal(cuts(), 1, "the first connection carried the batch once, then closed");
  assert.notEqual(await brokerConnection(c), connection, "a new connection");
  assert.notEqual(c.producerId, producerId, "after a resend, later sends take a new producer id");
  assert.deepEqual(values(await readTopic(topic)), ["before", "lost-answer-0", "lost-answer-1", "after"]);
});

test("sends made while a batch waits to be resent do not overtake it under its producer id: every send lands once", async () => {
  const topic = uniqueTopic("path-overtake");
  await createTopic(topic, 1);
  const c = client();
  // A resend delay long enough for the later sends to land first.
  const s = new IdempotentSender({ client: c, topic, acks: ProduceAcks.ALL, timeoutMs: 10_000, retries: 3, retryDelayMs: 1_000 });
  await s.send([record("k", "before")]);
  const connection = await brokerConnection(c);
  const cuts = cutAfterNextWrite(connection);
  const waiting = s.send([record("k", "resent")]);
  while (connection.isConnected()) await new Promise((resolve) => setTimeout(resolve, 5));
  // More later batches than the broker remembers per producer id and partition (5).
  const later = Array.from({ length: 7 }, (_, i) => `later-${i}`);
  for (const value of later) await s.send([record("k", value)]);
  await waiting;
  assert.equal(cuts(), 1);
  const read = values(await readTopic(topic));
  assert.deepEqual([...read].sort(), ["before", "resent", ...later].sort(), "every event once");
  assert.deepEqual(read.filter((v) => v.startsWith("later-")), later, "the later sends in order");
});
