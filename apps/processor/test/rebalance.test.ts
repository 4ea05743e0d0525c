// Two real processor processes in one group while records keep arriving: a second member joins (partitions
// move mid-stream), then the first leaves on SIGTERM (graceful: finishes its batch, commits, leaves the
// group). Nothing is lost and nothing is counted twice.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  binaryRecord,
  committedOffsets,
  createTestEnv,
  freePort,
  produce,
  sampleEvents,
  serverJs,
  servicesUp,
  spawnNode,
  sumOffsets,
  totals,
  waitFor,
  type Spawned,
  type TestEnv,
} from "./helpers.js";

let t: TestEnv;
const running: Spawned[] = [];

before(async () => {
  await servicesUp();
  t = await createTestEnv("rebalance", { KAFKA_TOPIC_PARTITIONS: "4", BATCH_MAX_RECORDS: "100", LOG_LEVEL: "info" });
});

after(async () => {
  for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  await t?.cleanup();
});

test("a member joining and another leaving mid-stream: exact totals", async () => {
  const events = sampleEvents(4000, { prefix: "rb", minutes: 10 });
  const topic = t.config.kafka.eventsTopic;
  const chunk = (i: number) => events.slice(i * 500, (i + 1) * 500).map((e) => binaryRecord(topic, e));

  const a = spawnNode(serverJs, { ...t.env, PORT: String(await freePort()), KAFKA_CLIENT_ID: "member-a" });
  running.push(a);
  await waitFor("member A in the group", () => a.output().includes('"msg":"joined consumer group"') || undefined, 30_000);
  await produce(t.config, [...chunk(0), ...chunk(1)]);
  await waitFor("A processing", async () => (await totals(t.database)).events > 0 || undefined);

  // B joins while A has work in flight and more keeps arriving.
  const b = spawnNode(serverJs, { ...t.env, PORT: String(await freePort()), KAFKA_CLIENT_ID: "member-b" });
  running.push(b);
  await produce(t.config, [...chunk(2), ...chunk(3)]);
  await waitFor("member B in the group", () => b.output().includes('"msg":"joined consumer group"') || undefined, 30_000);
  await produce(t.config, chunk(4));

  // A leaves gracefully while records are still flowing; its partitions go to B.
  a.child.kill("SIGTERM");
  await produce(t.config, [...chunk(5), ...chunk(6)]);
  const aExit = await a.exited;
  assert.deepEqual(aExit, { code: 0, signal: null }, a.output());
  assert.match(a.output(), /"msg":"shutdown complete"/);
  // A replay of an early chunk after the rebalance: already stored, must not count again.
  await produce(t.config, [...chunk(7), ...chunk(0)]);

  await waitFor("4000 distinct events stored", async () => (await totals(t.database)).events === 4000 || undefined, 90_000);
  await waitFor("all 4500 records committed", async () => sumOffsets(await committedOffsets(t.config)) === 4500 || undefined, 60_000);
  assert.deepEqual(await totals(t.database), { events: 4000, rollup: 4000 });

  b.child.kill("SIGTERM");
  assert.deepEqual(await b.exited, { code: 0, signal: null }, b.output());
  // Both members really took part: each logged at least one assignment with partitions.
  for (const p of [a, b]) assert.match(p.output(), /"assignments":\["[^"]+\[\d/);
});
