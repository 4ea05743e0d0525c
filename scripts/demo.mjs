#!/usr/bin/env node
// `npm run demo`: a realistic stream against a running local pipeline (`npm run local` in another terminal).
// A small shop: page views (batched mode), orders placed (structured mode), payments (binary mode), shipments
// (batched); then replays of already-accepted events (same source and id, in all three modes) and invalid
// requests that must be answered 400 and count nothing. It waits until the processor has caught up (consumer
// lag 0 and the read API at the expected totals, bounded by DEMO_WAIT_MS) and prints, per event type, the
// read API's total next to the expected one. Exit 0 when every count and every status is as expected.
//
// Counts are read for the hours around the run and compared with the totals read just before sending, so
// earlier runs do not disturb the comparison (traffic from elsewhere during the run would).
//
// Environment (all optional): INGEST_URL (http://127.0.0.1:$INGEST_PORT), PROCESSOR_URL
// (http://127.0.0.1:$PROCESSOR_PORT), INGEST_PORT (8080), PROCESSOR_PORT (8081), DEMO_WAIT_MS (60000).
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { LocalError, localSettings } from "./local.mjs";

const DEFAULTS = {
  waitMs: 60_000,
  concurrency: 4,
  // A good client retries 503 and 429 after Retry-After; capped so the demo does not stall for long.
  maxAttempts: 5,
  maxRetryAfterMs: 5_000,
  pollMs: 250,
};

export const TYPES = {
  viewed: { type: "com.example.shop.page.viewed", source: "/web/storefront" },
  placed: { type: "com.example.shop.order.placed", source: "/shop/checkout" },
  paid: { type: "com.example.shop.order.paid", source: "/shop/payments" },
  shipped: { type: "com.example.shop.order.shipped", source: "/shop/warehouse" },
};

export function demoSettings(env = process.env) {
  const s = localSettings(env);
  const wait = env.DEMO_WAIT_MS?.trim() || String(DEFAULTS.waitMs);
  if (!/^\d+$/.test(wait) || Number(wait) < 1_000) throw new LocalError(`DEMO_WAIT_MS must be an integer of at least 1000 (milliseconds), got "${wait}"`);
  return {
    ingestUrl: (env.INGEST_URL?.trim() || `http://${s.host}:${s.ingestPort}`).replace(/\/$/, ""),
    processorUrl: (env.PROCESSOR_URL?.trim() || `http://${s.host}:${s.processorPort}`).replace(/\/$/, ""),
    waitMs: Number(wait),
  };
}

// ---------------------------------------------------------------- the stream

const STRUCTURED = { "content-type": "application/cloudevents+json" };
const BATCH = { "content-type": "application/cloudevents-batch+json" };

function event(kind, id, subject, data, time) {
  return { specversion: "1.0", id, source: TYPES[kind].source, type: TYPES[kind].type, time, subject, datacontenttype: "application/json", data };
}

const structured = (label, e, expect = 202) => ({ label, mode: "structured", headers: STRUCTURED, body: JSON.stringify(e), events: [e], expect });
const batched = (label, events, expect = 202) => ({ label, mode: "batched", headers: BATCH, body: JSON.stringify(events), events, expect });
function binary(label, e, expect = 202) {
  const headers = { "content-type": "application/json", "ce-specversion": e.specversion, "ce-source": e.source, "ce-type": e.type, "ce-time": e.time, "ce-subject": e.subject };
  if (e.id !== undefined) headers["ce-id"] = e.id;
  return { label, mode: "binary", headers, body: JSON.stringify(e.data), events: [e], expect };
}

/**
 * The requests of one run, in sending order: originals, then replays, then invalid ones. `run` makes the ids
 * unique to the run; `at()` gives each event its time (now, by default).
 */
export function demoStream(run, at = () => new Date().toISOString()) {
  const views = Array.from({ length: 120 }, (_, i) => event("viewed", `${run}-view-${i}`, `user-${i % 12}`, { path: `/products/${i % 30}`, referrer: i % 3 ? "search" : "direct" }, at()));
  const orders = Array.from({ length: 20 }, (_, i) => event("placed", `${run}-order-${i}`, `order-${run}-${i}`, { total: 10 + ((i * 37) % 90), items: 1 + (i % 4) }, at()));
  const payments = Array.from({ length: 15 }, (_, i) => event("paid", `${run}-payment-${i}`, `order-${run}-${i}`, { amount: 10 + ((i * 37) % 90), currency: "EUR" }, at()));
  const shipments = Array.from({ length: 10 }, (_, i) => event("shipped", `${run}-shipment-${i}`, `order-${run}-${i}`, { carrier: i % 2 ? "dhl" : "ups" }, at()));
  const viewBatches = [0, 1, 2].map((b) => views.slice(b * 40, b * 40 + 40));

  const originals = [
    ...viewBatches.map((b, i) => batched(`page views ${i * 40 + 1}-${i * 40 + 40}`, b)),
    ...orders.map((e, i) => structured(`order ${i + 1} placed`, e)),
    ...payments.map((e, i) => binary(`order ${i + 1} paid`, e)),
    batched("shipments 1-10", shipments),
  ];
  const replays = [
    batched("page views 41-80 again (replay)", viewBatches[1]),
    ...orders.slice(0, 5).map((e, i) => structured(`order ${i + 1} placed again (replay)`, e)),
    ...payments.slice(0, 3).map((e, i) => binary(`order ${i + 1} paid again (replay)`, e)),
  ].map((r) => ({ ...r, replay: true }));
  const invalid = [
    structured("specversion 0.3", { ...event("placed", `${run}-bad-version`, `order-${run}-x`, { total: 1 }, at()), specversion: "0.3" }, 400),
    binary("no ce-id header", { ...event("paid", undefined, `order-${run}-x`, { amount: 1, currency: "EUR" }, at()) }, 400),
    batched(
      "5 valid shipments and one dated 30 February",
      [...Array.from({ length: 5 }, (_, i) => event("shipped", `${run}-bad-batch-${i}`, `order-${run}-y${i}`, { carrier: "ups" }, at())), event("shipped", `${run}-bad-batch-5`, `order-${run}-y5`, { carrier: "ups" }, "2026-02-30T10:00:00Z")],
      400,
    ),
    { label: "truncated JSON body", mode: "structured", headers: STRUCTURED, body: `{"specversion":"1.0","id":"${run}-truncated","source":"/shop/checkout"`, events: [], expect: 400 },
  ];
  return [...originals, ...replays, ...invalid];
}

/** Distinct events per type among the requests expected to be accepted: what the read API must add. */
export function expectedCounts(requests) {
  const seen = new Map(Object.values(TYPES).map(({ type }) => [type, new Set()]));
  for (const r of requests) if (r.expect === 202) for (const e of r.events) seen.get(e.type).add(`${e.source}\u0000${e.id}`);
  return new Map([...seen].map(([type, ids]) => [type, ids.size]));
}

// ---------------------------------------------------------------- talking to the pipeline

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function probe(name, url) {
  let res;
  try {
    res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) });
  } catch (err) {
    throw new LocalError(`no ${name} service answers at ${url} (GET /readyz: ${err.cause?.code ?? err.message}); start the pipeline first: npm run local`);
  }
  if (res.status !== 200) throw new LocalError(`the ${name} service at ${url} is not ready (GET /readyz: ${res.status} ${await res.text()})`);
}

/** POSTs one request, retrying 503 and 429 after Retry-After like a well-behaved client. */
async function send(ingestUrl, r) {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${ingestUrl}/v1/events`, { method: "POST", headers: r.headers, body: r.body });
    const body = await res.json().catch(() => ({}));
    if ((res.status === 503 || res.status === 429) && attempt < DEFAULTS.maxAttempts) {
      await sleep(Math.min(Number(res.headers.get("retry-after") ?? 1) * 1000, DEFAULTS.maxRetryAfterMs));
      continue;
    }
    return { ...r, status: res.status, body, attempts: attempt };
  }
}

async function sendAll(ingestUrl, requests) {
  const results = new Array(requests.length);
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const i = next++;
      results[i] = await send(ingestUrl, requests[i]);
    }
  };
  await Promise.all(Array.from({ length: DEFAULTS.concurrency }, worker));
  return results;
}

/** The read API's totals per type for the window, and whether the consumer has no lag on any partition. */
async function observe(processorUrl, window) {
  const totals = new Map();
  for (const { type } of Object.values(TYPES)) {
    const q = new URLSearchParams({ type, from: window.from, to: window.to, granularity: "hour" });
    const res = await fetch(`${processorUrl}/v1/stats?${q}`);
    if (res.status !== 200) throw new LocalError(`GET /v1/stats for ${type} answered ${res.status}: ${await res.text()}`);
    totals.set(type, (await res.json()).total);
  }
  const metrics = await (await fetch(`${processorUrl}/metrics`)).text();
  const lags = [...metrics.matchAll(/^processor_consumer_lag\{[^}]*\} (\S+)$/gm)].map((m) => Number(m[1]));
  return { totals, caughtUp: lags.length > 0 && lags.every((l) => l === 0) };
}

/** Polls until caught up and `done(totals)`, or until waitMs; resolves to the last observation. */
async function waitUntil(processorUrl, window, waitMs, done = () => true) {
  const deadline = Date.now() + waitMs;
  let last;
  do {
    last = await observe(processorUrl, window);
    if (last.caughtUp && done(last.totals)) return { ...last, settled: true };
    await sleep(DEFAULTS.pollMs);
  } while (Date.now() < deadline);
  return { ...last, settled: false };
}

// ---------------------------------------------------------------- report

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows.map((r) => r.map((v, c) => (c === 0 || c === r.length - 1 ? String(v).padEnd(widths[c]) : String(v).padStart(widths[c]))).join("  ").trimEnd()).join("\n");
}

export async function runDemo(s, out = (line) => process.stdout.write(`${line}\n`)) {
  await probe("ingest", s.ingestUrl);
  await probe("processor", s.processorUrl);
  const start = new Date();
  const hour = Math.floor(start.getTime() / 3_600_000) * 3_600_000;
  const window = { from: new Date(hour).toISOString(), to: new Date(hour + 2 * 3_600_000).toISOString() };
  const before = await waitUntil(s.processorUrl, window, s.waitMs);
  if (!before.settled) throw new LocalError(`the processor did not catch up with earlier events within ${s.waitMs / 1000} s, so there is no stable baseline; try again`);

  const run = `demo-${start.getTime().toString(36)}-${randomBytes(2).toString("hex")}`;
  const requests = demoStream(run);
  out(`[demo] sending ${requests.length} requests to ${s.ingestUrl} (run ${run})`);
  const results = await sendAll(s.ingestUrl, requests);
  const expected = new Map([...expectedCounts(requests)].map(([type, n]) => [type, before.totals.get(type) + n]));
  // Totals only grow: one above its expectation will not come back, so that ends the wait too.
  const after = await waitUntil(s.processorUrl, window, s.waitMs, (totals) =>
    [...expected].every(([type, n]) => totals.get(type) === n) || [...expected].some(([type, n]) => totals.get(type) > n),
  );

  const perType = (pick) => new Map(Object.values(TYPES).map(({ type }) => [type, results.filter(pick).reduce((n, r) => n + r.events.filter((e) => e.type === type).length, 0)]));
  const sent = perType((r) => r.expect === 202 && !r.replay);
  const replayed = perType((r) => r.replay);
  const accepted = perType((r) => r.status === 202);
  const rows = [["event type", "sent", "replayed", "accepted (202)", "before", "expected", "read API", ""]];
  for (const { type } of Object.values(TYPES)) {
    const ok = after.totals.get(type) === expected.get(type);
    rows.push([type, sent.get(type), replayed.get(type), accepted.get(type), before.totals.get(type), expected.get(type), after.totals.get(type), ok ? "ok" : "MISMATCH"]);
  }
  const modes = ["structured", "batched", "binary"].map((m) => `${results.filter((r) => r.mode === m).length} ${m}`).join(", ");
  out(`[demo] requests: ${modes}; counts from ${s.processorUrl}/v1/stats, ${window.from} to ${window.to}`);
  out("");
  out(table(rows));
  out("");
  out("invalid requests (each must be answered 400 and count nothing):");
  const invalidRows = results.filter((r) => r.expect === 400).map((r) => [`  ${r.mode}: ${r.label}`, r.status, r.body.code ?? "", r.body.errors?.[0]?.detail ?? r.body.detail ?? ""]);
  out(table(invalidRows));
  out("");

  const wrongStatus = results.filter((r) => r.status !== r.expect);
  for (const r of wrongStatus) out(`[demo] ${r.mode} "${r.label}": expected ${r.expect}, got ${r.status} after ${r.attempts} attempt(s): ${JSON.stringify(r.body)}`);
  const mismatched = rows.slice(1).filter((r) => r.at(-1) !== "ok");
  if (!after.settled) out(`[demo] the read API did not reach the expected totals within ${s.waitMs / 1000} s${after.caughtUp ? "" : " (the processor still has lag)"}`);
  const ok = wrongStatus.length === 0 && mismatched.length === 0;
  out(ok ? "[demo] every count is as expected: replays counted once, invalid events not at all" : "[demo] FAILED: see above");
  return ok;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    process.exit((await runDemo(demoSettings())) ? 0 : 1);
  } catch (err) {
    process.stderr.write(`[demo] ${err instanceof LocalError ? err.message : err.stack}\n`);
    process.exit(1);
  }
}
