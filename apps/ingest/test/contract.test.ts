/**
 * The event contract from ingest's side, against the real local broker: the conformance corpus in all three content
 * modes (every valid event 202 and on the topic, every invalid one 400 naming its attribute with the exact text, and
 * nothing of it on the topic), then a property over generated events at the contract's edges: whatever the mode,
 * the answer is 202 or 400 (never a 5xx), and exactly the events answered 202 reach Kafka.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { edgeEvent, httpRequest, loadCorpus, MODES, type Mode } from "@eventstack/contract/testing";
import { createTopic, readTopic, servicesUp, testApp, uniqueTopic } from "./helpers.js";

before(servicesUp);

const { valid, invalid } = loadCorpus();

async function appFor(t: { after: (fn: () => Promise<void>) => void }, topic: string): Promise<FastifyInstance> {
  const app = await testApp(topic);
  t.after(() => app.close());
  return app;
}

const send = (app: FastifyInstance, event: Record<string, unknown>, mode: Mode) => {
  const { headers, body } = httpRequest(event, mode);
  return app.inject({ method: "POST", url: "/v1/events", headers: { ...headers, "x-request-id": "req-corpus" }, payload: body });
};

/** Record ids on the topic, counted. */
async function idsOnTopic(topic: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const r of await readTopic(topic)) counts.set(r.headers.ce_id as string, (counts.get(r.headers.ce_id as string) ?? 0) + 1);
  return counts;
}

describe("the conformance corpus in every content mode", () => {
  test("valid events: 202, each on the topic once per request; invalid events: 400 naming the attribute, nothing produced", async (t) => {
    const topic = uniqueTopic("corpus");
    await createTopic(topic);
    const app = await appFor(t, topic);
    const expected = new Map<string, number>();
    for (const c of valid) {
      for (const mode of c.modes) {
        const res = await send(app, c.event, mode);
        assert.equal(res.statusCode, 202, `${c.name} (${mode}): ${res.body}`);
        assert.deepEqual(res.json(), { accepted: 1 });
        expected.set(c.event.id as string, (expected.get(c.event.id as string) ?? 0) + 1);
      }
    }
    for (const c of invalid) {
      for (const mode of c.modes) {
        const res = await send(app, c.event, mode);
        assert.equal(res.statusCode, 400, `${c.name} (${mode}): ${res.body}`);
        assert.equal(res.headers["content-type"], "application/problem+json; charset=utf-8");
        assert.deepEqual(
          res.json(),
          {
            type: "urn:eventstack:problem:invalid-events",
            title: "Invalid CloudEvents",
            status: 400,
            detail: mode === "batch" ? "1 of 1 events is invalid; nothing was produced" : "the event is invalid; nothing was produced",
            instance: "/v1/events",
            code: "INGEST_INVALID_EVENTS",
            requestId: "req-corpus",
            errors: [{ index: 0, attribute: c.attribute, detail: c.detail }],
          },
          `${c.name} (${mode})`,
        );
      }
    }
    // Exactly the valid events, as many times as they were sent: no invalid one was produced.
    assert.deepEqual(await idsOnTopic(topic), expected);
  });
});

describe("generated events at the contract's edges, in every content mode", () => {
  test("the answer is 202 or 400 naming attributes, and exactly the events answered 202 are on the topic", async (t) => {
    const topic = uniqueTopic("property");
    await createTopic(topic);
    const app = await appFor(t, topic);
    const accepted = new Map<string, number>();
    let seq = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(edgeEvent(() => seq++), fc.constantFrom(...MODES), async (event, mode) => {
        const res = await send(app, event, mode);
        if (res.statusCode === 202) {
          accepted.set(event.id as string, (accepted.get(event.id as string) ?? 0) + 1);
          return;
        }
        assert.equal(res.statusCode, 400, res.body);
        const problem = res.json() as { code: string; errors: { index: number; attribute: string | null }[] };
        assert.equal(problem.code, "INGEST_INVALID_EVENTS");
        assert.ok(problem.errors.length > 0 && problem.errors.every((e) => e.index === 0 && typeof e.attribute === "string"), res.body);
        refused++;
      }),
      { numRuns: 400 },
    );
    assert.ok(accepted.size > 80 && refused > 80, `${accepted.size} accepted, ${refused} refused`);
    assert.deepEqual(await idsOnTopic(topic), accepted);
  });
});
