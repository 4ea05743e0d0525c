// The batch pipeline's ordering rules, with stages the test completes by hand: no services, no timers. Each
// stage records when it starts and when the test lets it finish, so the assertions are about order only.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BatchPipeline } from "../src/pipeline.js";

interface Deferred {
  resolve(): void;
  reject(err: Error): void;
  promise: Promise<void>;
}
function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { resolve, reject, promise };
}

/** Stages that log "store 1", "commit 1"... when they start and wait for the test to finish them. */
function harness(stores = 1) {
  const log: string[] = [];
  const pending = new Map<string, Deferred>();
  const releases = new Map<number, () => void>();
  const stage = (name: string) => (batch: number, release?: () => void) => {
    const d = deferred();
    pending.set(`${name} ${batch}`, d);
    if (release) releases.set(batch, release);
    log.push(`${name} ${batch}`);
    return d.promise;
  };
  const pipeline = new BatchPipeline<number>({ store: stage("store"), commit: stage("commit") }, { stores });
  /** Lets the microtasks the pipeline chains on run (a few turns, not time). */
  const settle = async () => {
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  const finish = async (key: string, err?: Error) => {
    const d = pending.get(key);
    assert.ok(d, `${key} has started`);
    if (err) d.reject(err);
    else d.resolve();
    log.push(`${key} done`);
    await settle();
  };
  /** What a store stage does once its COPY is done: lets the next batch's store stage start beside it. */
  const release = async (batch: number) => {
    const r = releases.get(batch);
    assert.ok(r, `store ${batch} has started`);
    r();
    log.push(`store ${batch} released`);
    await settle();
  };
  return { log, pipeline, settle, finish, release };
}

describe("batch pipeline", () => {
  test("stores one batch at a time in order, commits each only after its own store and the previous commit", async () => {
    const { log, pipeline, settle, finish } = harness();
    // What started since the last look, sorted: stages started by one step run side by side, in no set order.
    let seen = 0;
    const next = () => log.slice(seen, (seen = log.length)).sort();
    const started: number[] = [];
    const push = (n: number) => pipeline.push(n).then((ok) => ok && started.push(n));
    void push(1);
    await settle();
    void push(2);
    await settle();
    // Batch 2 waits for batch 1's transaction.
    assert.deepEqual(next(), ["store 1"]);
    await finish("store 1");
    // Batch 1's offsets and batch 2's transaction now run side by side.
    assert.deepEqual(next(), ["commit 1", "store 1 done", "store 2"]);
    void push(3);
    await settle();
    await finish("store 2");
    // Batch 2 is stored, but its commit waits for batch 1's; batch 3 waits for batch 1's commit too (the bound).
    assert.deepEqual(next(), ["store 2 done"]);
    await finish("commit 1");
    assert.deepEqual(next(), ["commit 1 done", "commit 2", "store 3"]);
    await finish("store 3");
    assert.deepEqual(next(), ["store 3 done"]);
    await finish("commit 2");
    assert.deepEqual(next(), ["commit 2 done", "commit 3"]);
    await finish("commit 3");
    await pipeline.drained();
    assert.deepEqual(started, [1, 2, 3]);
  });

  test("a failed store stage: its commit and every later batch never start, and the failure surfaces", async () => {
    const { log, pipeline, settle, finish } = harness();
    void pipeline.push(1);
    await settle();
    const second = pipeline.push(2);
    await settle();
    await finish("store 1", new Error("PostgreSQL went away"));
    await assert.rejects(second, /PostgreSQL went away/);
    await assert.rejects(pipeline.push(3), /PostgreSQL went away/);
    await assert.rejects(pipeline.drained(), /PostgreSQL went away/);
    await pipeline.idle();
    assert.deepEqual(log, ["store 1", "store 1 done"]);
  });

  test("a failed commit stage stops the later commits, not the stores already started", async () => {
    const { log, pipeline, settle, finish } = harness();
    void pipeline.push(1);
    await settle();
    void pipeline.push(2);
    await finish("store 1");
    await finish("store 2");
    await finish("commit 1", new Error("broker gone"));
    await assert.rejects(pipeline.drained(), /broker gone/);
    // commit 2 never started.
    assert.deepEqual([...log].sort(), ["commit 1", "commit 1 done", "store 1", "store 1 done", "store 2", "store 2 done"]);
  });

  test("a batch no longer wanted once its turn comes is not started; idle() waits for the started ones", async () => {
    const { log, pipeline, settle, finish } = harness();
    void pipeline.push(1);
    await settle();
    let stopping = false;
    const second = pipeline.push(2, () => !stopping);
    stopping = true;
    let idle = false;
    void pipeline.idle().then(() => (idle = true));
    await finish("store 1");
    assert.equal(await second, false);
    assert.equal(idle, false);
    await finish("commit 1");
    assert.equal(idle, true);
    assert.deepEqual(log, ["store 1", "store 1 done", "commit 1", "commit 1 done"]);
  });

  test("storing counts the transactions running; storeSettled waits for one of them, failed or not (the consumer's batch rule)", async () => {
    const { pipeline, settle, finish, release } = harness(2);
    assert.equal(pipeline.storing, 0);
    await pipeline.storeSettled();
    void pipeline.push(1);
    void pipeline.push(2);
    await settle();
    assert.equal(pipeline.storing, 1);
    await release(1);
    assert.equal(pipeline.storing, 2);
    let settled = false;
    void pipeline.storeSettled().then(() => (settled = true));
    await settle();
    assert.equal(settled, false);
    await finish("store 1", new Error("PostgreSQL went away"));
    assert.equal(settled, true);
    assert.equal(pipeline.storing, 1);
    await finish("store 2");
    assert.equal(pipeline.storing, 0);
    await pipeline.idle();
  });

  test("two stores at once: each starts once the one before released it, at most two run, commits stay in order", async () => {
    const { log, pipeline, settle, finish, release } = harness(2);
    let seen = 0;
    const next = () => log.slice(seen, (seen = log.length)).sort();
    // Pushed back to back: taken in order, the second waiting for the first to release it (its COPY done).
    void pipeline.push(1);
    const second = pipeline.push(2);
    await settle();
    assert.deepEqual(next(), ["store 1"]);
    await release(1);
    assert.deepEqual(next(), ["store 1 released", "store 2"]);
    assert.equal(await second, true);
    const third = pipeline.push(3);
    await settle();
    // Released by the second, but two already run: the third waits for the first to finish.
    await release(2);
    assert.deepEqual(next(), ["store 2 released"]);
    // The second finishes first: its commit still waits for the first batch's.
    await finish("store 2");
    assert.deepEqual(next(), ["store 2 done"]);
    await finish("store 1");
    assert.deepEqual(next(), ["commit 1", "store 1 done", "store 3"]);
    assert.equal(await third, true);
    await finish("commit 1");
    assert.deepEqual(next(), ["commit 1 done", "commit 2"]);
    await finish("store 3");
    await finish("commit 2");
    assert.deepEqual(next(), ["store 3 done", "commit 2 done", "commit 3"].sort());
    await finish("commit 3");
    await pipeline.drained();
  });

  test("two stores at once: a store stage that never releases lets the next one start when it finishes", async () => {
    const { log, pipeline, settle, finish } = harness(2);
    void pipeline.push(1);
    void pipeline.push(2);
    await settle();
    assert.deepEqual(log, ["store 1"]);
    await finish("store 1");
    assert.deepEqual([...log].sort(), ["commit 1", "store 1", "store 1 done", "store 2"]);
    await finish("commit 1");
    await finish("store 2");
    await finish("commit 2");
    await pipeline.drained();
  });

  test("two stores at once: the first fails while the second runs: no commit starts, no later batch starts", async () => {
    const { log, pipeline, settle, finish, release } = harness(2);
    void pipeline.push(1);
    void pipeline.push(2);
    await settle();
    await release(1);
    const third = pipeline.push(3);
    await finish("store 1", new Error("PostgreSQL went away"));
    await assert.rejects(third, /PostgreSQL went away/);
    // The transaction already running beside it finishes; its offsets are never committed.
    await finish("store 2");
    await assert.rejects(pipeline.push(4), /PostgreSQL went away/);
    await assert.rejects(pipeline.drained(), /PostgreSQL went away/);
    await pipeline.idle();
    assert.deepEqual([...log].sort(), ["store 1", "store 1 done", "store 1 released", "store 2", "store 2 done"]);
  });
});

