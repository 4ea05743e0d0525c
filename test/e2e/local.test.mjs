// End to end, as a user runs it: `npm run local` in its own process group (a terminal), events posted to
// ingest over HTTP, totals read back from the processor's read API, `npm run demo` against it, and Ctrl-C.
// Everything is real: the built services as processes, the Kafka broker, PostgreSQL and Redis.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { root } from "../../scripts/local.mjs";
import { CrashWindow, Service } from "../../scripts/supervisor.mjs";
import { canConnect, down, postgresMissing, settings, startedRecord, up } from "../../scripts/services.mjs";
import { GiveUp, caughtUp, freePort, isolated, sleep, total, waitFor, waitForTotals } from "./helpers.mjs";

const kafkaBootstrap = () => `${settings().kafkaHost}:${settings().kafkaPort}`;

before(() => up());

/** A command's output, line by line as it arrives, and its exit. */
function run(cmd, args, env, opts = {}) {
  const child = spawn(cmd, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], ...opts });
  const lines = [];
  let partial = { stdout: "", stderr: "" };
  for (const name of ["stdout", "stderr"]) {
    child[name].setEncoding("utf8").on("data", (chunk) => {
      const parts = (partial[name] + chunk).split("\n");
      partial[name] = parts.pop();
      lines.push(...parts);
    });
  }
  const closed = new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
  return { child, lines, closed, text: () => lines.join("\n") };
}

const post = (url, headers, body) => fetch(`${url}/v1/events`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
const STRUCTURED = { "content-type": "application/cloudevents+json" };
const BATCH = { "content-type": "application/cloudevents-batch+json" };
const ce = (id, type, time, extra = {}) => ({ specversion: "1.0", id, source: "/e2e/shop", type: `com.example.e2e.${type}`, time, subject: `order-${id}`, data: { id }, ...extra });

describe("npm run local, as a user runs it", () => {
  let t;
  let local;
  let urls;

  before(async () => {
    t = await isolated("local", { LOG_LEVEL: "info" });
    urls = { ingest: `http://127.0.0.1:${t.env.INGEST_PORT}`, processor: `http://127.0.0.1:${t.env.PROCESSOR_PORT}` };
    // detached: its own process group, which is what a terminal's Ctrl-C signals.
    local = run("npm", ["run", "--silent", "local"], t.env, { detached: true });
    await waitFor("npm run local to print its ready line", () => {
      if (local.child.exitCode !== null) throw new GiveUp(`npm run local exited ${local.child.exitCode}:\n${local.text()}`);
      return local.lines.some((l) => l.startsWith("[local] ready:"));
    }, 180_000);
  });

  after(async () => {
    // A test failed before Ctrl-C: stop it the same way (the services die with it), and only then insist.
    const running = () => local?.child.exitCode === null && local.child.signalCode === null;
    if (running()) {
      process.kill(-local.child.pid, "SIGINT");
      await Promise.race([local.closed, sleep(45_000)]);
      if (running()) process.kill(-local.child.pid, "SIGKILL");
    }
    await t?.cleanup({ kafkaBootstrap: kafkaBootstrap() });
  });

  test("it prints the URLs and a curl command per content mode; each works as printed and the count is 4", async () => {
    assert.ok(local.lines.includes(`[local] ready: ingest ${urls.ingest}, processor ${urls.processor} (Ctrl-C stops everything this run started)`));
    const curls = local.lines.filter((l) => l.startsWith("  curl ")).map((l) => l.trim());
    assert.equal(curls.length, 4);
    assert.match(curls[0], /-H 'content-type: application\/cloudevents\+json'/);
    assert.match(curls[1], /-H 'content-type: application\/cloudevents-batch\+json'/);
    assert.match(curls[2], /-H 'ce-specversion: 1\.0'/);
    // stderr ignored: curl draws a progress meter there when its output is not a terminal.
    const sh = (line) => execFileSync("sh", ["-c", line], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const answers = curls.slice(0, 3).map(sh);
    assert.deepEqual(answers.map((a) => [a.split("\r\n")[0], a.slice(a.indexOf("\r\n\r\n") + 4)]), [
      ["HTTP/1.1 202 Accepted", '{"accepted":1}'],
      ["HTTP/1.1 202 Accepted", '{"accepted":2}'],
      ["HTTP/1.1 202 Accepted", '{"accepted":1}'],
    ]);
    const count = () => JSON.parse(sh(curls[3])).total;
    await waitFor("the printed stats query to count 4", async () => count() === 4, 60_000);
    // Sent again, the same events change nothing.
    assert.match(sh(curls[0]), /^HTTP\/1\.1 202 Accepted/);
    await waitFor("the processor caught up after the replay", () => caughtUp(urls.processor));
    assert.equal(count(), 4);
  });

  test("events posted to ingest become exact totals: replays once, another source's same id apart, an invalid batch nothing", async () => {
    const at = (m, s) => `2025-06-01T12:0${m}:${String(s).padStart(2, "0")}Z`;
    const created = [1, 2, 3, 4, 5].map((i) => ce(`c${i}`, "created", at(i % 2, i)));
    const updated = [1, 2, 3, 4].map((i) => ce(`u${i}`, "updated", at(1, i)));
    const deleted = ce("d1", "deleted", at(2, 0));
    const accepted = [
      await post(urls.ingest, STRUCTURED, created[0]),
      await post(urls.ingest, STRUCTURED, created[1]),
      await post(urls.ingest, STRUCTURED, created[2]),
      await post(urls.ingest, BATCH, [created[3], created[4], updated[0], updated[1]]),
      ...(await Promise.all(
        [updated[2], updated[3], deleted].map((e) =>
          post(urls.ingest, { "content-type": "application/json", "ce-specversion": "1.0", "ce-id": e.id, "ce-source": e.source, "ce-type": e.type, "ce-time": e.time, "ce-subject": e.subject }, e.data),
        ),
      )),
      // Replays: the same (source, id) again, in each mode.
      await post(urls.ingest, STRUCTURED, created[0]),
      await post(urls.ingest, BATCH, [created[3], updated[0]]),
      await post(urls.ingest, { "content-type": "application/json", "ce-specversion": "1.0", "ce-id": "d1", "ce-source": "/e2e/shop", "ce-type": deleted.type, "ce-time": deleted.time }, "{}"),
      // The same id from another source is another event.
      await post(urls.ingest, STRUCTURED, { ...created[0], source: "/e2e/other-shop" }),
    ];
    assert.deepEqual(await Promise.all(accepted.map(async (r) => [r.status, await r.json()])), [
      [202, { accepted: 1 }], [202, { accepted: 1 }], [202, { accepted: 1 }], [202, { accepted: 4 }],
      [202, { accepted: 1 }], [202, { accepted: 1 }], [202, { accepted: 1 }],
      [202, { accepted: 1 }], [202, { accepted: 2 }], [202, { accepted: 1 }], [202, { accepted: 1 }],
    ]);

    // One invalid event makes the whole batch a 400, and nothing of it is produced.
    const invalid = await post(urls.ingest, { ...BATCH, "x-request-id": "e2e-invalid-batch" }, [ce("c6", "created", at(0, 6)), ce("a1", "archived", at(0, 7)), ce("a2", "archived", at(0, 8), { type: undefined })]);
    assert.equal(invalid.status, 400);
    assert.equal(invalid.headers.get("content-type"), "application/problem+json; charset=utf-8");
    assert.deepEqual(await invalid.json(), {
      type: "urn:eventstack:problem:invalid-events",
      title: "Invalid CloudEvents",
      status: 400,
      detail: "1 of 3 events is invalid; nothing was produced",
      instance: "/v1/events",
      code: "INGEST_INVALID_EVENTS",
      requestId: "e2e-invalid-batch",
      errors: [{ index: 2, attribute: "type", detail: "type is required" }],
    });

    const expected = new Map([
      ["com.example.e2e.created", 6],
      ["com.example.e2e.updated", 4],
      ["com.example.e2e.deleted", 1],
      ["com.example.e2e.archived", 0],
    ]);
    assert.deepEqual(await waitForTotals(urls.processor, expected), Object.fromEntries(expected));
    // Minute buckets: created c2, c4 at 12:00 and c1, c3, c5 at 12:01, plus c1 of the other source.
    const q = new URLSearchParams({ type: "com.example.e2e.created", from: "2025-06-01T12:00:00Z", to: "2025-06-01T12:03:00Z" });
    const res = await (await fetch(`${urls.processor}/v1/stats?${q}`)).json();
    assert.deepEqual(res.buckets.map((b) => [b.start, b.count]), [
      ["2025-06-01T12:00:00.000Z", 2],
      ["2025-06-01T12:01:00.000Z", 4],
      ["2025-06-01T12:02:00.000Z", 0],
    ]);
    assert.equal(await total(urls.processor, "com.example.e2e.created"), 6);
  });

  test("npm run demo against it: every count as the stream implies, the invalid requests answered 400", async () => {
    const demo = run("npm", ["run", "--silent", "demo"], t.env);
    const exit = await demo.closed;
    assert.deepEqual(exit, { code: 0, signal: null }, demo.text());
    const rows = Object.fromEntries(
      demo.lines.filter((l) => l.startsWith("com.example.shop.")).map((l) => {
        const [type, ...cells] = l.trim().split(/\s+/);
        return [type, cells];
      }),
    );
    // sent, replayed, accepted (202), before, expected, read API, verdict
    const check = (type, sent, replayed) => {
      const [s, r, a, before, expected, actual, verdict] = rows[type];
      assert.deepEqual([s, r, a].map(Number), [sent, replayed, sent + replayed], type);
      assert.equal(Number(expected), Number(before) + sent, type);
      assert.deepEqual([actual, verdict], [expected, "ok"], type);
    };
    check("com.example.shop.page.viewed", 120, 40);
    check("com.example.shop.order.placed", 20, 5);
    check("com.example.shop.order.paid", 15, 3);
    check("com.example.shop.order.shipped", 10, 0);
    const invalid = demo.lines.filter((l) => /^ {2}(structured|binary|batched): /.test(l)).map((l) => l.trim().split(/\s{2,}/));
    assert.deepEqual(invalid, [
      ["structured: specversion 0.3", "400", "INGEST_INVALID_EVENTS", 'specversion must be "1.0", got "0.3"'],
      ["binary: no ce-id header", "400", "INGEST_INVALID_EVENTS", "id is required"],
      ["batched: 5 valid shipments and one dated 30 February", "400", "INGEST_INVALID_EVENTS", 'time must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z (day 30 does not exist in 2026-02), got "2026-02-30T10:00:00Z"'],
      ["structured: truncated JSON body", "400", "INGEST_MALFORMED_BODY", "the body is not valid JSON"],
    ]);
    assert.ok(demo.lines.includes("[demo] every count is as expected: replays counted once, invalid events not at all"));
  });

  test("Ctrl-C: ingest stops first, then the processor, both exit 0; the broker, Redis and PostgreSQL it did not start stay up", async () => {
    process.kill(-local.child.pid, "SIGINT");
    await local.closed;
    const stopped = local.lines.indexOf("[local]     stopped: ingest exit 0, processor exit 0, Kafka left running, Redis left running, PostgreSQL left running");
    assert.ok(stopped > 0, local.text().slice(-3000));
    const ingestDone = local.lines.findIndex((l) => /^\[ingest\] +\S+ INFO +shutdown complete(  |$)/.test(l));
    const processorStops = local.lines.findIndex((l) => /^\[processor\] \S+ INFO +shutting down: not ready, finishing in-flight work/.test(l));
    assert.ok(ingestDone > 0 && processorStops > ingestDone, "ingest drained before the processor was asked to stop");
    assert.ok(local.lines.some((l) => /^\[processor\] \S+ INFO +shutdown complete(  |$)/.test(l)));
    assert.deepEqual(await Promise.all([canConnect("127.0.0.1", Number(t.env.INGEST_PORT)), canConnect("127.0.0.1", Number(t.env.PROCESSOR_PORT))]), [false, false]);
    assert.equal(await canConnect(settings().kafkaHost, settings().kafkaPort), true);
    assert.deepEqual(await Promise.all([canConnect("127.0.0.1", 6379), canConnect("127.0.0.1", 5432)]), [true, true]);
  });
});

/** The processes `pid` started, each with its argv (Linux: /proc/<pid>/task/<pid>/children). */
function childrenOf(pid) {
  let ids;
  try {
    ids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(" ").filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return ids.flatMap((child) => {
    try {
      return [{ pid: child, argv: readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0").filter(Boolean) }];
    } catch {
      return []; // Exited meanwhile.
    }
  });
}

/**
 * `npm run local` with the environment `t` of one test, in its own process group as in a terminal, until it prints
 * its ready line; then `body(local)`. Whatever happens, no process of the run outlives the test.
 */
async function withLocal(t, body) {
  // detached: its own process group, as in a terminal; a supervisor's signal goes to npm alone.
  const local = run("npm", ["run", "--silent", "local"], t.env, { detached: true });
  local.closed.then(() => (local.done = true));
  try {
    await waitFor("npm run local to print its ready line", () => {
      if (local.child.exitCode !== null) throw new GiveUp(`npm run local exited ${local.child.exitCode}:\n${local.text()}`);
      return local.lines.some((l) => l.startsWith("[local] ready:"));
    }, 180_000);
    await body(local);
  } finally {
    // A failed test may leave the run going: stop its process group (npm, or an orphaned local.mjs), then insist.
    if (!local.done) {
      try {
        process.kill(-local.child.pid, "SIGINT");
      } catch {
        // The group is gone already.
      }
      await Promise.race([local.closed, sleep(45_000)]);
      try {
        process.kill(-local.child.pid, "SIGKILL");
      } catch {
        // Stopped in time.
      }
    }
  }
}

describe("npm run local stops the servers it started, and only those", () => {
  /**
   * `npm run local` with a Redis port where nothing listens: to scripts/services.mjs that is Redis installed but
   * not running, the same case as a stopped machine Redis, without stopping the Redis the other tests use. Whatever
   * happens, no Redis of this test outlives it and the test's data is removed.
   */
  async function withOwnRedis(label, body) {
    const t = await isolated(label, { LOG_LEVEL: "info" });
    t.env.REDIS_PORT = String(await freePort());
    const own = settings(t.env);
    try {
      assert.equal(await canConnect(own.redisHost, own.redisPort), false, "nothing listens on the test's Redis port yet");
      await withLocal(t, (local) => body(local, own, t.env));
    } finally {
      await down(own, ["redis"]);
      await t.cleanup({ kafkaBootstrap: kafkaBootstrap() });
    }
  }

  const stoppedLine = "[local]     stopped: ingest exit 0, processor exit 0, Kafka left running, Redis stopped, PostgreSQL left running";

  test("Redis not running beforehand: the run starts it, says so, and Ctrl-C stops it again; the machine's Redis stays up", async () => {
    await withOwnRedis("local_redis", async (local, own) => {
      assert.ok(local.lines.some((l) => l.endsWith(`Redis ${own.redisHost}:${own.redisPort} (started by this run, stopped with it)`)), local.text());
      assert.equal(await canConnect(own.redisHost, own.redisPort), true);
      assert.deepEqual(Object.keys(startedRecord(own)).filter((k) => k.startsWith("redis ")), [`redis ${own.redisHost}:${own.redisPort}`]);
      process.kill(-local.child.pid, "SIGINT");
      await local.closed;
      assert.ok(local.lines.includes(stoppedLine), local.text().slice(-3000));
      assert.equal(await canConnect(own.redisHost, own.redisPort), false);
      assert.equal(startedRecord(own)[`redis ${own.redisHost}:${own.redisPort}`], undefined);
      assert.equal(await canConnect("127.0.0.1", 6379), true);
    });
  });

  test("SIGTERM to npm alone, as a supervisor sends it: npm passes it on, ingest, the processor and the Redis the run started stop, both services exit 0, npm exits 0", async () => {
    await withOwnRedis("local_sigterm", async (local, own, env) => {
      const ports = [Number(env.INGEST_PORT), Number(env.PROCESSOR_PORT)];
      // To npm only, not its process group: npm passes it to its script, which is scripts/local.mjs itself.
      process.kill(local.child.pid, "SIGTERM");
      const exit = await local.closed;
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.ok(local.lines.includes(stoppedLine), local.text().slice(-3000));
      const ingestDone = local.lines.findIndex((l) => /^\[ingest\] +\S+ INFO +shutdown complete(  |$)/.test(l));
      const processorStops = local.lines.findIndex((l) => /^\[processor\] \S+ INFO +shutting down: not ready, finishing in-flight work/.test(l));
      assert.ok(ingestDone > 0 && processorStops > ingestDone, "ingest drained before the processor was asked to stop");
      assert.deepEqual(await Promise.all([...ports.map((p) => canConnect("127.0.0.1", p)), canConnect(own.redisHost, own.redisPort)]), [false, false, false]);
      assert.equal(await canConnect(settings().kafkaHost, settings().kafkaPort), true);
    });
  });
});

describe("npm run local under signals and crashes", () => {
  const stoppedLine = "[local]     stopped: ingest exit 0, processor exit 0, Kafka left running, Redis left running, PostgreSQL left running";

  test("SIGINT to npm alone, not its process group: npm's only child is scripts/local.mjs, which stops ingest, then the processor, and npm exits 0", async () => {
    const t = await isolated("local_sigint", { LOG_LEVEL: "info" });
    try {
      await withLocal(t, async (local) => {
        // No shell between npm and the script (`exec`), so what npm passes on reaches scripts/local.mjs.
        assert.deepEqual(childrenOf(local.child.pid).map((c) => c.argv.slice(1)), [["scripts/local.mjs"]]);
        process.kill(local.child.pid, "SIGINT");
        await waitFor("npm run local to stop", () => local.done, 120_000);
        assert.deepEqual(await local.closed, { code: 0, signal: null });
        assert.ok(local.lines.includes(stoppedLine), local.text().slice(-3000));
        const ingestDone = local.lines.findIndex((l) => /^\[ingest\] +\S+ INFO +shutdown complete(  |$)/.test(l));
        const processorStops = local.lines.findIndex((l) => /^\[processor\] \S+ INFO +shutting down: not ready, finishing in-flight work/.test(l));
        assert.ok(ingestDone > 0 && processorStops > ingestDone, "ingest drained before the processor was asked to stop");
        assert.deepEqual(await Promise.all([canConnect("127.0.0.1", Number(t.env.INGEST_PORT)), canConnect("127.0.0.1", Number(t.env.PROCESSOR_PORT))]), [false, false]);
      });
    } finally {
      await t.cleanup({ kafkaBootstrap: kafkaBootstrap() });
    }
  });

  test("a crash loop is given up: the processor SIGKILLed 5 times in a row is restarted after each of the first 4, then the run stops everything and exits 1", async () => {
    const t = await isolated("local_crashloop", { LOG_LEVEL: "info" });
    try {
      await withLocal(t, async (local) => {
        const [script] = childrenOf(local.child.pid);
        assert.deepEqual(script.argv.slice(1), ["scripts/local.mjs"]);
        const processorPid = () => childrenOf(script.pid).find((c) => c.argv.some((a) => a.endsWith(path.join("apps", "processor", "dist", "src", "server.js"))))?.pid;
        let last;
        for (let crash = 1; crash <= 5; crash++) {
          // The first processor, then each restarted one as soon as it runs.
          const pid = await waitFor(`processor process ${crash}`, () => {
            const p = processorPid();
            return p !== undefined && p !== last ? p : undefined;
          }, 60_000, 50);
          process.kill(pid, "SIGKILL");
          last = pid;
        }
        await waitFor("npm run local to give the processor up and stop", () => local.done, 120_000);
        assert.deepEqual(await local.closed, { code: 1, signal: null });
        const verdicts = local.lines.filter((l) => l.startsWith("[local]     processor exited"));
        assert.deepEqual(verdicts, [
          ...[1, 2, 3, 4].map((n) => `[local]     processor exited (SIGKILL); restarting it (${n} of 5 crashes within 60 s before it is given up)`),
          "[local]     processor exited (SIGKILL): 5 crashes within 60 s; giving up",
        ]);
        assert.ok(local.lines.includes("[local]     stopped: ingest exit 0, processor killed by SIGKILL, Kafka left running, Redis left running, PostgreSQL left running"), local.text().slice(-3000));
        assert.deepEqual(await Promise.all([canConnect("127.0.0.1", Number(t.env.INGEST_PORT)), canConnect("127.0.0.1", Number(t.env.PROCESSOR_PORT))]), [false, false]);
      });
    } finally {
      await t.cleanup({ kafkaBootstrap: kafkaBootstrap() });
    }
  });

  test("the restart policy counts crashes within the last 60 s: the 5th within it gives up, a crash older than it no longer counts", () => {
    let now = 0;
    const at = (ms) => {
      now = ms;
      return window.crashed();
    };
    let window = new CrashWindow({ now: () => now });
    assert.deepEqual([window.maxCrashes, window.windowMs], [5, 60_000]);
    assert.deepEqual([0, 1_000, 2_000, 3_000].map(at), [true, true, true, true]);
    assert.deepEqual([at(4_000), window.recent], [false, 5]);

    // Four crashes within a minute, then the fifth 60 s after the first: the first no longer counts.
    window = new CrashWindow({ now: () => now });
    assert.deepEqual([0, 20_000, 40_000, 59_999].map(at), [true, true, true, true]);
    assert.deepEqual([at(60_000), window.recent], [true, 4]);
    // One crash every 15 s for an hour: never 5 within 60 s, so never given up, however many there are.
    window = new CrashWindow({ now: () => now });
    const hour = Array.from({ length: 240 }, (_, i) => at(i * 15_000));
    assert.deepEqual([hour.every(Boolean), window.recent], [true, 4]);

    assert.throws(() => new CrashWindow({ maxCrashes: 0 }), { name: "RangeError", message: "maxCrashes must be an integer of at least 1, got 0" });
    assert.throws(() => new CrashWindow({ windowMs: -1 }), { name: "RangeError", message: "windowMs must be a positive number of milliseconds, got -1" });
  });

  test("a real process that crashes at once, supervised under the policy: started 5 times, given up at its 5th crash", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "e2e-crash-"));
    try {
      writeFileSync(path.join(dir, "crash.mjs"), "process.exit(3);\n");
      const window = new CrashWindow();
      let givenUp;
      const done = new Promise((resolve) => (givenUp = resolve));
      const svc = new Service("crasher", path.join(dir, "crash.mjs"), {
        env: process.env,
        cwd: dir,
        restartDelayMs: 10,
        restart: () => {
          const again = window.crashed();
          if (!again) givenUp();
          return again;
        },
      }).start();
      await done;
      assert.deepEqual([svc.starts, svc.exits, svc.running], [5, Array(5).fill({ code: 3, signal: null }), false]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("npm run services:up / services:down: down stops what up recorded it started, and nothing else", () => {
  /** The CLI with its own state directory, so that its record (and no kafka.pid) is this test's alone. */
  const cli = (command, env) => {
    const r = spawnSync("npm", ["run", "--silent", `services:${command}`], { cwd: root, env, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  const stateDir = () => mkdtempSync(path.join(os.tmpdir(), "e2e-services-"));

  test("Redis started by up is stopped by down; the broker, PostgreSQL and the machine's Redis it found running stay up", async () => {
    const env = { ...process.env, EVENTSTACK_STATE_DIR: stateDir(), REDIS_PORT: String(await freePort()) };
    const own = settings(env);
    try {
      assert.deepEqual(cli("up", env), { postgres: "running", redis: "started", kafka: "running", kafkaBootstrap: kafkaBootstrap() });
      assert.equal(await canConnect(own.redisHost, own.redisPort), true);
      assert.deepEqual(cli("down", env), { kafka: "left running", redis: "stopped", postgres: "left running" });
      assert.deepEqual([await canConnect(own.redisHost, own.redisPort), await canConnect(own.kafkaHost, own.kafkaPort)], [false, true]);
      assert.deepEqual(startedRecord(own), {});
      // Nothing recorded any more: a second down stops nothing.
      assert.deepEqual(cli("down", env), { kafka: "left running", redis: "not running", postgres: "left running" });
      assert.deepEqual(cli("down", { ...env, REDIS_PORT: "6379" }), { kafka: "left running", redis: "left running", postgres: "left running" });
      assert.equal(await canConnect("127.0.0.1", 6379), true);
    } finally {
      await down(own, ["redis"]);
      rmSync(own.stateDir, { recursive: true, force: true });
    }
  });

  // Like the fault tests, this needs the machine's PostgreSQL to be a Debian cluster (pg_ctlcluster).
  test("PostgreSQL stopped beforehand: up starts the cluster, down stops it again", async () => {
    const env = { ...process.env, EVENTSTACK_STATE_DIR: stateDir() };
    const own = settings(env);
    const version = readdirSync("/etc/postgresql").sort().at(-1);
    const cluster = (...action) => execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", ...action], { stdio: "ignore" });
    try {
      cluster("stop", "-m", "fast");
      assert.equal(await canConnect(own.pgHost, own.pgPort), false);
      assert.deepEqual(cli("up", env), { postgres: "started", redis: "running", kafka: "running", kafkaBootstrap: kafkaBootstrap() });
      assert.deepEqual(startedRecord(own), { [`postgres ${own.pgHost}:${own.pgPort}`]: { version } });
      assert.deepEqual(cli("down", env), { kafka: "left running", redis: "left running", postgres: "stopped" });
      assert.equal(await canConnect(own.pgHost, own.pgPort), false);
      assert.deepEqual(startedRecord(own), {});
    } finally {
      // The other tests need the machine's PostgreSQL, whatever happened here.
      if (!(await canConnect(own.pgHost, own.pgPort))) cluster("start");
      await waitFor("PostgreSQL accepting connections again", () => canConnect(own.pgHost, own.pgPort), 60_000, 250);
      rmSync(own.stateDir, { recursive: true, force: true });
    }
  });
});

test("the README gives the commands these tests run, exactly", () => {
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  assert.ok(readme.includes("\n```\nnpm ci && npm run local\n```\n"));
  assert.ok(readme.includes("\n```\nnpm run demo\n```\n"));
});

describe("npm run local refuses to start, with the reason and exit code 1", () => {
  const local = async (env) => {
    const r = run(process.execPath, ["scripts/local.mjs"], env);
    return { ...(await r.closed), output: r.text() };
  };

  test("an invalid port variable is named with what was expected", async () => {
    const r = await local({ ...process.env, INGEST_PORT: "99999", PROCESSOR_PORT: "8081" });
    assert.deepEqual(r, { code: 1, signal: null, output: '[local] invalid environment:\n  - INGEST_PORT must be an integer from 1 to 65535, got "99999"' });
  });

  test("Redis neither reachable nor installed: what to install, or what to point at a server", async () => {
    // A PATH with node and sh only, so that redis-server is not found; a port where no Redis listens.
    const bin = mkdtempSync(path.join(os.tmpdir(), "e2e-bin-"));
    try {
      symlinkSync(process.execPath, path.join(bin, "node"));
      symlinkSync("/bin/sh", path.join(bin, "sh"));
      const port = await freePort();
      const r = await local({ ...process.env, PATH: bin, REDIS_PORT: String(port) });
      assert.deepEqual(r, {
        code: 1,
        signal: null,
        output: `[local] cannot start: Redis is not reachable on 127.0.0.1:${port} and is not installed here. Install it (Debian/Ubuntu: apt-get install -y redis-server) or point REDIS_HOST/REDIS_PORT at a running server.`,
      });
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  test("PostgreSQL installed but not running, with no Debian cluster to start: how to start it, not that it is missing", async () => {
    // A PATH with node, sh and a pg_ctl, but no pg_ctlcluster; a port where no PostgreSQL listens.
    const bin = mkdtempSync(path.join(os.tmpdir(), "e2e-bin-"));
    try {
      symlinkSync(process.execPath, path.join(bin, "node"));
      symlinkSync("/bin/sh", path.join(bin, "sh"));
      writeFileSync(path.join(bin, "pg_ctl"), "#!/bin/sh\nexit 1\n");
      chmodSync(path.join(bin, "pg_ctl"), 0o755);
      const port = await freePort();
      const r = await local({ ...process.env, PATH: bin, PGPORT: String(port) });
      assert.deepEqual(r, {
        code: 1,
        signal: null,
        output:
          `[local] cannot start: PostgreSQL is not reachable on 127.0.0.1:${port}; it looks installed (${bin}/pg_ctl) but is not running. ` +
          "Start it (pg_ctl -D <data directory> -l <log file> start, or the service manager that runs it) or point PGHOST/PGPORT at a running server.",
      });
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  test("the PostgreSQL message: not installed without a server binary, not running with one", () => {
    const s = settings({ PGHOST: "db.internal", PGPORT: "5433" });
    assert.equal(
      postgresMissing(s, undefined),
      "PostgreSQL is not reachable on db.internal:5433 and is not installed here. Install it (Debian/Ubuntu: apt-get install -y postgresql) or point PGHOST/PGPORT at a running server.",
    );
    assert.equal(
      postgresMissing(s, "/usr/lib/postgresql/16/bin/pg_ctl"),
      "PostgreSQL is not reachable on db.internal:5433; it looks installed (/usr/lib/postgresql/16/bin/pg_ctl) but is not running. Start it (pg_ctl -D <data directory> -l <log file> start, or the service manager that runs it) or point PGHOST/PGPORT at a running server.",
    );
  });

  test("a port already in use: the variable to change, before anything is started", async () => {
    const [ingestPort, processorPort] = [await freePort(), await freePort()];
    const busy = net.createServer().listen(ingestPort, "127.0.0.1");
    try {
      const r = await local({ ...process.env, INGEST_PORT: String(ingestPort), PROCESSOR_PORT: String(processorPort) });
      assert.deepEqual(r, {
        code: 1,
        signal: null,
        output: `[local] cannot start: INGEST_PORT ${ingestPort} is already in use on 127.0.0.1 (another \`npm run local\`?); set INGEST_PORT to a free port`,
      });
    } finally {
      busy.close();
    }
  });
});
