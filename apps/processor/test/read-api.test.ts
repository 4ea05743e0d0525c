// The read API against hostile input, with the real PostgreSQL and Redis (no consumer: rollups are inserted
// directly): every query parameter refused with a 400 naming it, impossible dates refused, the cache holding
// only what exists and bounded per request, and every error (unknown route, bad URL, malformed HTTP) answered
// as problem+json.
import assert from "node:assert/strict";
import net from "node:net";
import { Writable } from "node:stream";
import { createLogger } from "@eventstack/runtime";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { buildApp } from "../src/app.js";
import { Cache } from "../src/cache.js";
import { Metrics } from "../src/metrics.js";
import { StatsService } from "../src/stats.js";
import { Store } from "../src/store.js";
import { createTestEnv, query, quietLog, redis, servicesUp, type TestEnv } from "./helpers.js";

let t: TestEnv;
let store: Store;
let cache: Cache;
let metrics: Metrics;
let app: FastifyInstance;
let r: Redis;
let port: number;

before(async () => {
  await servicesUp();
  t = await createTestEnv("read_api");
  store = new Store(t.config, quietLog);
  cache = new Cache(t.config, quietLog);
  cache.start();
  metrics = new Metrics();
  app = buildApp({
    log: quietLog,
    stats: new StatsService(store, cache, metrics, quietLog),
    metrics,
    maxBuckets: t.config.http.maxBuckets,
    readiness: {},
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  port = (app.server.address() as net.AddressInfo).port;
  r = redis();
  for (let i = 0; i < 50 && !cache.ready; i++) await new Promise((res) => setTimeout(res, 100));
  assert.ok(cache.ready, "Redis is not ready");
});

after(async () => {
  await app?.close();
  await store?.close();
  await cache?.close();
  r?.disconnect();
  await t?.cleanup();
});

const get = (url: string) => app.inject({ method: "GET", url });
const prefix = () => t.config.redis.keyPrefix;

/** Every key under this test's prefix with its number of fields. */
async function written(): Promise<Map<string, number>> {
  const keys = await r.keys(`${prefix()}*`);
  const out = new Map<string, number>();
  for (const k of keys.sort()) out.set(k.slice(prefix().length), await r.hlen(k));
  return out;
}

async function clearCache(): Promise<void> {
  const keys = await r.keys(`${prefix()}*`);
  if (keys.length) await r.del(...keys);
}

/** The problem document of `url`; its requestId is the X-Request-Id header's (asserted here, then left out). */
async function problem(url: string, status = 400) {
  const res = await get(url);
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.headers["content-type"], "application/problem+json; charset=utf-8");
  const { requestId, ...rest } = res.json();
  assert.equal(requestId, res.headers["x-request-id"]);
  assert.match(String(requestId), UUID);
  return rest;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const range = "from=2025-01-15T10:00:00Z&to=2025-01-15T11:00:00Z";

describe("query parameters that are not text", () => {
  test("a NUL in type: 400 naming type, nothing sent to PostgreSQL", async () => {
    const detail = 'query parameter "type" must be text without control characters (U+0000-U+001F, U+007F-U+009F) or Unicode noncharacters, got U+0000 at character 2';
    assert.deepEqual(await problem(`/v1/stats?type=a%00b&${range}`), {
      type: "urn:eventstack:problem:invalid-query-parameter",
      title: "Invalid query parameter",
      status: 400,
      detail,
      instance: `/v1/stats?type=a%00b&${range}`,
      code: "PROCESSOR_INVALID_QUERY_PARAMETER",
      "invalid-params": [{ name: "type", reason: detail }],
    });
  });

  test("other control characters and noncharacters in every parameter", async () => {
    const d = (name: string, cp: string, at: number) =>
      `query parameter "${name}" must be text without control characters (U+0000-U+001F, U+007F-U+009F) or Unicode noncharacters, got U+${cp} at character ${at}`;
    assert.equal((await problem(`/v1/stats?type=%1B%5B31m&${range}`)).detail, d("type", "001B", 1));
    assert.equal((await problem(`/v1/stats?type=a%7F&${range}`)).detail, d("type", "007F", 2));
    assert.equal((await problem(`/v1/stats?type=a%C2%85&${range}`)).detail, d("type", "0085", 2));
    assert.equal((await problem(`/v1/stats?type=%EF%BF%BE&${range}`)).detail, d("type", "FFFE", 1));
    assert.equal((await problem(`/v1/stats?type=a&from=2025-01-15T10:00:00Z%0A&to=2025-01-15T11:00:00Z`)).detail, d("from", "000A", 21));
    assert.equal((await problem(`/v1/stats?type=a&from=2025-01-15T10:00:00Z&to=%00`)).detail, d("to", "0000", 1));
    assert.equal((await problem(`/v1/stats?type=a&${range}&granularity=hour%09`)).detail, d("granularity", "0009", 5));
    const unknown = await problem(`/v1/stats?type=a&${range}&x=%00`);
    assert.deepEqual(unknown["invalid-params"], [{ name: "x", reason: d("x", "0000", 1) }]);
  });

  test("malformed escapes and bytes that are not UTF-8: 400 naming the parameter", async () => {
    assert.equal((await problem(`/v1/stats?type=%FF&${range}`)).detail, 'query parameter "type" must be percent-encoded UTF-8, got "%FF"');
    // An encoded surrogate (CESU-8) is not UTF-8 either.
    assert.equal((await problem(`/v1/stats?type=%ED%A0%80&${range}`)).detail, 'query parameter "type" must be percent-encoded UTF-8, got "%ED%A0%80"');
    assert.equal((await problem(`/v1/stats?type=a%&${range}`)).detail, 'query parameter "type" must be percent-encoded UTF-8, got "a%"');
    assert.equal((await problem(`/v1/stats?type=a&from=%zz&to=2025-01-15T11:00:00Z`)).detail, 'query parameter "from" must be percent-encoded UTF-8, got "%zz"');
    const badName = await problem(`/v1/stats?type=a&${range}&%E0=1`);
    assert.deepEqual(badName["invalid-params"], [{ name: "%E0", reason: 'query parameter name "%E0" must be percent-encoded UTF-8' }]);
  });

  test("the operational routes check their query string the same way", async () => {
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      assert.equal((await problem(`${path}?x=%FF`)).detail, 'query parameter "x" must be percent-encoded UTF-8, got "%FF"');
    }
  });

  test("text that is fine is looked up: an encoded type with a space, a plus and non-ASCII letters", async () => {
    const res = await get(`/v1/stats?type=caf%C3%A9+menu%2Bx&${range}&granularity=hour`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().type, "café menu+x");
  });

  test("a repeated parameter and a long value are refused without echoing the whole value", async () => {
    assert.equal((await problem(`/v1/stats?type=a&type=b&${range}`)).detail, 'query parameter "type" must be given once');
    assert.equal(
      (await problem(`/v1/stats?type=a&${range}&granularity=${"d".repeat(100)}`)).detail,
      `query parameter "granularity" must be "minute" or "hour", got "${"d".repeat(64)}…"`,
    );
  });
});

describe("impossible dates", () => {
  const cases: [string, string, string][] = [
    ["from", "2025-02-30T00:00:00Z", "the day must be 01-28 (2025-02 has 28 days)"],
    ["from", "2025-02-29T00:00:00Z", "the day must be 01-28 (2025-02 has 28 days)"],
    ["from", "2025-04-31T00:00:00Z", "the day must be 01-30 (2025-04 has 30 days)"],
    ["from", "2025-01-00T00:00:00Z", "the day must be 01-31 (2025-01 has 31 days)"],
    ["from", "2025-13-01T00:00:00Z", "the month must be 01-12"],
    ["from", "2025-01-15T24:00:00Z", "the hour must be 00-23"],
    ["from", "2025-01-15T10:60:00Z", "the minute must be 00-59"],
    ["from", "2025-01-15T10:00:60Z", "the second must be 00-59"],
    ["from", "2025-01-15T10:00:00+24:00", "the offset must be at most 23:59"],
  ];
  for (const [name, value, reason] of cases) {
    test(`${value}: 400 naming ${name}`, async () => {
      const body = await problem(`/v1/stats?type=a&from=${encodeURIComponent(value)}&to=2025-03-05T00:00:00Z&granularity=hour`);
      const detail = `query parameter "${name}" must be a valid date and time, got "${value}": ${reason}`;
      assert.deepEqual(body["invalid-params"], [{ name, reason: detail }]);
    });
  }

  test("the same checks on to; 2024-02-29 (a leap year) is a date", async () => {
    assert.equal(
      (await problem("/v1/stats?type=a&from=2025-04-30T00:00:00Z&to=2025-04-31T00:00:00Z&granularity=hour")).detail,
      'query parameter "to" must be a valid date and time, got "2025-04-31T00:00:00Z": the day must be 01-30 (2025-04 has 30 days)',
    );
    const res = await get("/v1/stats?type=a&from=2024-02-29T00:00:00Z&to=2024-02-29T01:00:00Z&granularity=hour");
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().buckets[0].start, "2024-02-29T00:00:00.000Z");
  });
});

describe("what a request writes into Redis", () => {
  test("one hour-granularity query of the widest range for a type never seen writes nothing", async () => {
    await clearCache();
    const res = await get("/v1/stats?type=never.seen&from=2025-01-01T00:00:00Z&to=2025-03-02T00:00:00Z&granularity=hour");
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().buckets.length, 1440);
    assert.equal(res.json().total, 0);
    assert.deepEqual(await written(), new Map());
  });

  test("a type with events: only its minutes with events and one mark per day; the same query is then a hit", async () => {
    await clearCache();
    await query(
      t.database,
      `INSERT INTO rollup_minute (type, minute, count, subjects) VALUES
        ('seen', '2025-01-15T10:05:00Z', 3, 2), ('seen', '2025-01-15T23:59:00Z', 1, 1), ('seen', '2025-01-16T00:00:00Z', 4, 4)`,
    );
    const url = "/v1/stats?type=seen&from=2025-01-15T00:00:00Z&to=2025-01-17T00:00:00Z&granularity=hour";
    const first = await get(url);
    assert.equal(first.statusCode, 200, first.body);
    // Two days: per day, the minutes with events plus the `covered` mark.
    assert.deepEqual(await written(), new Map([["rollup:{seen}:2025-01-15", 3], ["rollup:{seen}:2025-01-16", 2]]));
    assert.deepEqual(await r.hgetall(`${prefix()}rollup:{seen}:2025-01-16`), { covered: "1".repeat(1440), "0": "4:4" });

    const hits = async () => (await metrics.cacheRequests.get()).values.find((v) => v.labels.result === "hit")?.value ?? 0;
    const before = await hits();
    const second = await get(url);
    assert.deepEqual(second.json(), first.json());
    assert.equal(await hits(), before + 1);
    assert.equal(second.json().total, 8);
    assert.deepEqual(second.json().buckets.filter((b: { count: number }) => b.count > 0), [
      { start: "2025-01-15T10:00:00.000Z", count: 3, subjects: 2 },
      { start: "2025-01-15T23:00:00.000Z", count: 1, subjects: 1 },
      { start: "2025-01-16T00:00:00.000Z", count: 4, subjects: 4 },
    ]);
  });

  test("a narrower range marks only its own minutes; a wider one is a miss until filled", async () => {
    await clearCache();
    await get("/v1/stats?type=seen&from=2025-01-15T10:00:00Z&to=2025-01-15T10:10:00Z");
    const covered = await r.hget(`${prefix()}rollup:{seen}:2025-01-15`, "covered");
    assert.equal(covered, `${"0".repeat(600)}${"1".repeat(10)}${"0".repeat(830)}`);
    const misses = async () => (await metrics.cacheRequests.get()).values.find((v) => v.labels.result === "miss")?.value ?? 0;
    const before = await misses();
    const wider = await get("/v1/stats?type=seen&from=2025-01-15T10:00:00Z&to=2025-01-15T10:11:00Z");
    assert.equal(wider.json().total, 3);
    assert.equal(await misses(), before + 1);
  });

  test("a range with more than 1,501 fields to write (the documented limit) is answered but not cached", async () => {
    await clearCache();
    await query(
      t.database,
      `INSERT INTO rollup_minute (type, minute, count, subjects)
       SELECT 'busy', g, 1, 1 FROM generate_series('2025-02-01T00:00:00Z'::timestamptz, '2025-02-02T00:59:00Z', '1 minute') g`,
    );
    // 1,500 minutes with events over two days: 1,502 fields.
    const res = await get("/v1/stats?type=busy&from=2025-02-01T00:00:00Z&to=2025-02-03T00:00:00Z&granularity=hour");
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().total, 1500);
    assert.deepEqual(await written(), new Map());
    // One day of it (1,440 values and a mark) fits.
    await get("/v1/stats?type=busy&from=2025-02-01T00:00:00Z&to=2025-02-02T00:00:00Z&granularity=hour");
    assert.deepEqual(await written(), new Map([["rollup:{busy}:2025-02-01", 1441]]));
  });
});

describe("request log lines", () => {
  test("every line of a request carries requestId, and trace_id and span_id of the caller's context; the same fields as ingest", async (t) => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString("utf8").split("\n")) if (l !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const log = createLogger("info", "eventstack-processor", sink);
    const logged = buildApp({ log, stats: new StatsService(store, cache, metrics, quietLog), metrics, maxBuckets: 1440, readiness: {} });
    t.after(() => logged.close());
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const ok = await logged.inject({ method: "GET", url: `/v1/stats?type=logged&${range}`, headers: { traceparent, "x-request-id": "req-stats" } });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.headers["x-request-id"], "req-stats");
    const bad = await logged.inject({ method: "GET", url: "/v1/stats?type=a", headers: { "x-request-id": "req-bad" } });
    assert.equal(bad.statusCode, 400);
    const completed = lines.filter((l) => l.msg === "request completed");
    assert.deepEqual(
      completed.map((l) => [l.service, l.requestId, l.trace_id, l.span_id, l.method, l.url, l.statusCode]),
      [
        ["eventstack-processor", "req-stats", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "GET", `/v1/stats?type=logged&${range}`, 200],
        ["eventstack-processor", "req-bad", undefined, undefined, "GET", "/v1/stats?type=a", 400],
      ],
    );
    assert.equal(typeof completed[0]?.responseTimeMs, "number");
  });
});

describe("errors outside the routes", () => {
  test("an unknown route: 404 problem+json", async () => {
    assert.deepEqual(await problem("/v1/nope?x=1", 404), {
      type: "urn:eventstack:problem:not-found",
      title: "Not found",
      status: 404,
      detail: "no route for GET /v1/nope",
      instance: "/v1/nope?x=1",
      code: "PROCESSOR_NOT_FOUND",
    });
  });

  test("a method the route does not have: 404 problem+json", async () => {
    const res = await app.inject({ method: "POST", url: "/v1/stats" });
    assert.equal(res.statusCode, 404);
    assert.equal(res.headers["content-type"], "application/problem+json; charset=utf-8");
    assert.equal(res.json().detail, "no route for POST /v1/stats");
  });

  test("a path that is not a valid URL component: 400 problem+json", async () => {
    assert.deepEqual(await problem("/v1/stats%"), {
      type: "urn:eventstack:problem:bad-request",
      title: "Bad request",
      status: 400,
      detail: "'/v1/stats%' is not a valid url component",
      instance: "/v1/stats%",
      code: "PROCESSOR_BAD_REQUEST",
    });
  });

  const raw = (request: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port });
      let out = "";
      socket.on("data", (d) => (out += d.toString("latin1")));
      socket.on("close", () => resolve(out));
      socket.on("error", reject);
      socket.setTimeout(10_000, () => reject(new Error("no answer within 10 s")));
      socket.end(request);
    });

  test("a request still incomplete at the request timeout: 408 problem+json, the connection closed", async (t) => {
    const slow = buildApp({ log: quietLog, stats: new StatsService(store, cache, metrics, quietLog), metrics, maxBuckets: 1440, readiness: {} }, { requestTimeout: 1000 });
    t.after(() => slow.close());
    await slow.listen({ host: "127.0.0.1", port: 0 });
    assert.equal(slow.server.headersTimeout, 1000);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port: (slow.server.address() as net.AddressInfo).port });
      let out = "";
      socket.on("data", (d) => (out += d.toString("latin1")));
      socket.on("close", () => resolve(out));
      socket.on("error", reject);
      // A generous bound that only keeps a broken server from hanging the test (the old sweep took up to 60 s).
      socket.setTimeout(8_000, () => reject(new Error("no answer within 8 s")));
      socket.write("GET /v1/stats?type=a HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    });
    const [head, body] = answer.split("\r\n\r\n") as [string, string];
    assert.equal(head.split("\r\n")[0], "HTTP/1.1 408 Request Timeout");
    assert.ok(head.split("\r\n").includes("Content-Type: application/problem+json"), answer);
    const p = JSON.parse(body);
    assert.match(p.requestId, UUID);
    assert.ok(head.split("\r\n").includes(`X-Request-Id: ${p.requestId}`), answer);
    assert.deepEqual(p, {
      type: "urn:eventstack:problem:request-timeout",
      title: "Request timeout",
      status: 408,
      detail: "the request did not arrive within the time allowed",
      instance: `urn:uuid:${p.requestId}`,
      code: "PROCESSOR_REQUEST_TIMEOUT",
      requestId: p.requestId,
    });
  });

  test("malformed HTTP answered by Node's parser: 400 problem+json, Connection: close", async () => {
    const framing = "the request's Content-Length or Transfer-Encoding is not valid: not a number, given twice, or both given";
    for (const [request, detail] of [
      ["GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", framing],
      ["GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", framing],
      ["GET /healthz HTTP/1.1\r\nHost: x\r\nBad\x01Header: 1\r\n\r\n", "a header name or value holds a character HTTP does not allow"],
    ] as const) {
      const answer = await raw(request);
      const [head, body] = answer.split("\r\n\r\n") as [string, string];
      const lines = head.split("\r\n");
      assert.equal(lines[0], "HTTP/1.1 400 Bad Request", answer);
      assert.ok(lines.includes("Content-Type: application/problem+json"), answer);
      assert.ok(lines.includes("Connection: close"), answer);
      assert.ok(lines.includes(`Content-Length: ${Buffer.byteLength(body)}`), answer);
      const p = JSON.parse(body);
      assert.match(p.requestId, UUID);
      assert.deepEqual(p, {
        type: "urn:eventstack:problem:bad-request",
        title: "Bad request",
        status: 400,
        detail,
        instance: `urn:uuid:${p.requestId}`,
        code: "PROCESSOR_BAD_REQUEST",
        requestId: p.requestId,
      });
    }
  });
});
