// The consumer's fetch loop (src/wire/fetcher.ts) against the real broker: where it starts, what it buffers, what a
// group join does to its position, pausing, and fetching one record again for a dead letter.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ConnectionPool, Consumer, FetchIsolationLevels } from "@platformatic/kafka";
import { loadConfig } from "../src/config.js";
import { createFetcher } from "../src/consume/fetcher-setup.js";
import { rawFetchV17, SESSIONLESS_FETCH, type FetchedRecord, type RecordFetcher } from "../src/wire/index.js";

/** Records the fetcher hands over, as objects (the consumer reads them in place instead). */
const takeRecords = (fetcher: RecordFetcher, max: number): FetchedRecord[] => {
  const out: FetchedRecord[] = [];
  fetcher.take(max, (c) => out.push(c.toRecord()));
  return out;
};
import { binaryRecord, createTestEnv, produce, sampleEvents, servicesUp, unique, waitFor, type TestEnv } from "./helpers.js";

let t: TestEnv;
const open: { consumer: Consumer<Buffer, Buffer, Buffer, Buffer>; fetcher: RecordFetcher }[] = [];

before(async () => {
  await servicesUp();
  // 3 partitions; 1,200 records, 400 per partition (explicit partitions, so the counts are exact).
  t = await createTestEnv("fetcher", { BATCH_MAX_RECORDS: "100" });
  const topic = t.config.kafka.eventsTopic;
  await produce(
    t.config,
    sampleEvents(1200, { prefix: "f" }).map((e, i) => binaryRecord(topic, { ...e, partition: i % 3 })),
  );
});

after(async () => {
  for (const { consumer, fetcher } of open) {
    await fetcher.close();
    await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
  }
  await t?.cleanup();
});

function member(groupId: string, config = t.config) {
  const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({ clientId: "test-fetcher", groupId, bootstrapBrokers: config.kafka.brokers, autocommit: false, sessionTimeout: 6000, heartbeatInterval: 500 });
  const fetcher = createFetcher(consumer, config);
  open.push({ consumer, fetcher });
  return { consumer, fetcher };
}

/** Takes records until `count` arrived (fails after a timeout, so a fetcher that stops cannot hang the test). */
async function takeAll(fetcher: RecordFetcher, count: number, max = 1000): Promise<FetchedRecord[]> {
  const out: FetchedRecord[] = [];
  const deadline = Date.now() + 20_000;
  while (out.length < count) {
    if (Date.now() > deadline) throw new Error(`took ${out.length} of ${count} records`);
    const got = takeRecords(fetcher, max);
    if (got.length === 0) await Promise.race([fetcher.wait(), new Promise((r) => setTimeout(r, 200))]);
    out.push(...got);
  }
  return out;
}

const positions = (records: FetchedRecord[]) => {
  const by = new Map<number, bigint[]>();
  for (const r of records) (by.get(r.partition) ?? by.set(r.partition, []).get(r.partition)!).push(r.offset);
  return by;
};

test("a new group starts at the earliest offset and gets every record once, in offset order per partition", async () => {
  const { fetcher } = member(unique("fetcher-new"));
  await fetcher.start();
  const records = await takeAll(fetcher, 1200);
  assert.equal(records.length, 1200);
  const by = positions(records);
  assert.deepEqual([...by.keys()].sort(), [0, 1, 2]);
  for (const offsets of by.values()) assert.deepEqual(offsets, Array.from({ length: 400 }, (_, i) => BigInt(i)));
  // Record fields as produced: the binary-mode headers, the key, the value, a record timestamp.
  const first = records.find((r) => r.partition === 0 && r.offset === 0n)!;
  assert.equal(first.topic, t.config.kafka.eventsTopic);
  assert.equal(first.headers.find(([k]) => k?.toString() === "ce_id")?.[1]?.toString(), "f-0");
  assert.ok(first.timestamp > 1_600_000_000_000n);
  assert.equal(takeRecords(fetcher, 1000).length, 0);
});

test("it starts at the group's committed offsets", async () => {
  const groupId = unique("fetcher-committed");
  const a = member(groupId);
  await a.fetcher.start();
  const topic = t.config.kafka.eventsTopic;
  await a.consumer.commit({ offsets: [0, 1, 2].map((partition) => ({ topic, partition, offset: BigInt(100 * (partition + 1)), leaderEpoch: -1 })) });
  await a.fetcher.close();
  await new Promise<void>((resolve) => a.consumer.close(true, () => resolve()));

  const b = member(groupId);
  await b.fetcher.start();
  const records = await takeAll(b.fetcher, 300 + 200 + 100);
  const by = positions(records);
  assert.equal(by.get(0)?.[0], 100n);
  assert.equal(by.get(1)?.[0], 200n);
  assert.equal(by.get(2)?.[0], 300n);
  assert.equal(records.length, 600);
});

test("it stops fetching once about one response waits to be read, fetches again while one is read, and pause stops fetching", async () => {
  // Responses are capped at 64 KiB (about 180 of these records), so the topic takes several responses.
  const limit = 65536;
  const { fetcher } = member(unique("fetcher-bounded"), loadConfig({ ...t.env, KAFKA_FETCH_MAX_BYTES: String(limit) }));
  await fetcher.start();
  await waitFor("a response's worth buffered", () => fetcher.bufferedBytes >= limit);
  await new Promise((r) => setTimeout(r, 700));
  // At least the limit (a response may come short of it, then a second one is fetched), less than two more.
  const held = fetcher.bufferedBytes;
  assert.ok(held >= limit && held < 2 * limit, `${held} bytes buffered`);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(fetcher.bufferedBytes, held, "fetched again while nothing was taken");

  // Reading into the buffered records lets the next fetch start while the rest still waits.
  let first = 0;
  while (fetcher.bufferedBytes >= limit) first += takeRecords(fetcher, 1).length;
  const left = fetcher.bufferedBytes;
  assert.ok(left > 0, "records still wait");
  await waitFor("a fetch while records still wait", () => fetcher.bufferedBytes > left);

  fetcher.pause();
  const taken = first + takeRecords(fetcher, 10_000).length;
  assert.ok(taken > 0 && taken < 1200, `${taken} records in the first responses`);
  // What was in flight has arrived; a paused fetcher starts no fetch when records are taken.
  await new Promise((r) => setTimeout(r, 700));
  const after = takeRecords(fetcher, 10_000).length;
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(fetcher.buffered, 0, "a paused fetcher fetched");
  fetcher.resume();
  const rest = await takeAll(fetcher, 1200 - taken - after);
  assert.equal(taken + after + rest.length, 1200);
});

test("a group join moves it back to the committed offsets of its new assignment and drops what it buffered", async () => {
  const groupId = unique("fetcher-rejoin");
  const a = member(groupId);
  await a.fetcher.start();
  await takeAll(a.fetcher, 150, 150);
  const topic = t.config.kafka.eventsTopic;
  await a.consumer.commit({ offsets: [0, 1, 2].map((partition) => ({ topic, partition, offset: 10n, leaderEpoch: -1 })) });

  // A second member joins: the group rebalances, and each member starts over from the committed offsets of
  // the partitions it now owns.
  const b = member(groupId);
  await b.fetcher.start();
  await waitFor("both members assigned", () => (a.consumer.assignments?.[0]?.partitions.length ?? 0) + (b.consumer.assignments?.[0]?.partitions.length ?? 0) === 3 && (b.consumer.assignments?.[0]?.partitions.length ?? 0) > 0);
  const owned = (c: Consumer<Buffer, Buffer, Buffer, Buffer>) => c.assignments?.[0]?.partitions ?? [];
  const fromA = await takeAll(a.fetcher, 390 * owned(a.consumer).length);
  const fromB = await takeAll(b.fetcher, 390 * owned(b.consumer).length);
  for (const [records, c] of [[fromA, a.consumer], [fromB, b.consumer]] as const) {
    const by = positions(records);
    assert.deepEqual([...by.keys()].sort(), [...owned(c)].sort());
    for (const offsets of by.values()) assert.deepEqual(offsets, Array.from({ length: 390 }, (_, i) => BigInt(i + 10)));
  }
});

test("fetchRecord returns the record at an offset with its original key, value and headers", async () => {
  const { fetcher } = member(unique("fetcher-one"));
  await fetcher.start();
  const all = await takeAll(fetcher, 1200);
  const want = all.find((r) => r.partition === 2 && r.offset === 123n)!;
  const got = await fetcher.fetchRecord(2, 123n);
  assert.equal(got.offset, 123n);
  assert.equal(got.partition, 2);
  assert.deepEqual(got.key, want.key);
  assert.deepEqual(got.value, want.value);
  assert.deepEqual(got.headers, want.headers);
  // The partition's end: the broker answers with no records.
  await assert.rejects(fetcher.fetchRecord(2, 400n), { message: `record ${t.config.kafka.eventsTopic}[2] at offset 400 was not returned by the broker` });
});

test("the fetch loop's Fetch opens no fetch session on the broker (session id 0 in the answer); epoch 0 would open one", async () => {
  const { consumer } = member(unique("fetcher-session"));
  const topic = t.config.kafka.eventsTopic;
  const metadata = await consumer.metadata({ topics: [topic] });
  const topicInfo = metadata.topics.get(topic)!;
  const leader = topicInfo.partitions[0]!.leader;
  const pool = new ConnectionPool("test-fetch-session");
  try {
    const connection = await pool.get(metadata.brokers.get(leader)!);
    const fetch = (sessionEpoch: number) =>
      rawFetchV17.async(connection, 0, 1, 1024, FetchIsolationLevels.READ_COMMITTED, 0, sessionEpoch, [{ topicId: topicInfo.id, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1024, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }], [], "");
    const sessionless = await fetch(SESSIONLESS_FETCH.sessionEpoch);
    assert.equal(SESSIONLESS_FETCH.sessionId, 0);
    assert.equal(sessionless.sessionId, 0);
    assert.ok((sessionless.responses[0]?.partitions[0]?.records?.length ?? 0) > 0, "the sessionless fetch returns records");
    const opening = await fetch(0);
    assert.notEqual(opening.sessionId, 0, "epoch 0 asks for a new session, and the broker opens one");
  } finally {
    await pool.close();
  }
});
