/**
 * Test helpers: the real local Kafka broker (scripts/services.mjs), per-test topics, reading a topic back, and
 * apps built against them. Not a test file itself (node --test runs dist/test/*.test.js only).
 */
import { randomUUID } from "node:crypto";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Admin, Consumer, MessagesStreamModes, stringDeserializer } from "@platformatic/kafka";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../src/app.js";
import { loadConfig, type Config } from "../src/config.js";

export const BOOTSTRAP = process.env.KAFKA_BOOTSTRAP ?? "127.0.0.1:9092";

interface Services {
  up(): Promise<{ kafka: string; kafkaBootstrap: string }>;
  startKafka(): Promise<string>;
  stopKafka(): Promise<string>;
  kafkaClasspath(): string;
}

let services: Promise<Services> | undefined;

/** scripts/services.mjs of the repository (npm runs workspace scripts with cwd = apps/ingest). */
export function loadServices(): Promise<Services> {
  services ??= import(pathToFileURL(path.resolve(process.cwd(), "../../scripts/services.mjs")).href) as Promise<Services>;
  return services;
}

/** Makes sure PostgreSQL, Redis and Kafka are up, so `npm test -w apps/ingest` works on its own. */
export async function servicesUp(): Promise<void> {
  await (await loadServices()).up();
}

export function uniqueTopic(prefix: string): string {
  return `ingest-test-${prefix}-${Date.now()}-${randomUUID().slice(0, 8)}`;
}

export async function createTopic(topic: string, partitions = 3): Promise<void> {
  const admin = new Admin({ clientId: "ingest-test-admin", bootstrapBrokers: [BOOTSTRAP] });
  try {
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
  } finally {
    await admin.close();
  }
}

/** Sum over partitions of the next offset to be written: how many records the topic ever received. */
export async function recordCount(topic: string): Promise<number> {
  const consumer = new Consumer({ clientId: "ingest-test-offsets", groupId: `offsets-${randomUUID()}`, bootstrapBrokers: [BOOTSTRAP] });
  try {
    const offsets = await consumer.listOffsets({ topics: [topic] });
    return (offsets.get(topic) ?? []).reduce((sum, o) => sum + Number(o), 0);
  } finally {
    await consumer.close();
  }
}

export interface ReadRecord {
  partition: number;
  offset: bigint;
  key: string | undefined;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * Reads every record of the topic from the beginning. Waits until the topic's end offsets are reached (they are
 * read first, so records produced before the call are all returned). The guard only keeps a broken test from
 * hanging; it is not an assertion on timing.
 */
export async function readTopic(topic: string, guardMs = 30_000): Promise<ReadRecord[]> {
  const expected = await recordCount(topic);
  if (expected === 0) return [];
  const consumer = new Consumer<string, Buffer, string, string>({
    clientId: "ingest-test-reader",
    groupId: `reader-${randomUUID()}`,
    bootstrapBrokers: [BOOTSTRAP],
    deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
    maxWaitTime: 200,
  });
  const records: ReadRecord[] = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false });
    const guard = setTimeout(() => stream.destroy(new Error(`read ${records.length} of ${expected} records of ${topic} before the guard`)), guardMs);
    try {
      for await (const message of stream) {
        const headers: Record<string, string> = {};
        for (const [k, v] of message.headers) headers[k] = v;
        // An absent value (an event without data) is deserialized by the library as an empty buffer or undefined.
        const value = message.value === undefined || message.value === null ? null : message.value;
        records.push({ partition: message.partition, offset: message.offset, key: message.key, value, headers });
        if (records.length >= expected) break;
      }
    } finally {
      clearTimeout(guard);
      await stream.close().catch(() => undefined);
    }
  } finally {
    await consumer.close(true);
  }
  return records.sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset));
}

/** A configuration for tests: the local broker, the given topic, silent logs, and any overrides. */
export function testConfig(topic: string, env: Record<string, string> = {}): Config {
  return loadConfig({ KAFKA_BOOTSTRAP: BOOTSTRAP, EVENTS_TOPIC: topic, LOG_LEVEL: "silent", PORT: "0", ...env });
}

/** Builds an app; the caller closes it (t.after). */
export async function testApp(topic: string, env: Record<string, string> = {}): Promise<FastifyInstance> {
  const app = await buildApp(testConfig(topic, env), { env });
  await app.ready();
  return app;
}

/** A valid structured-mode event; `overrides` replace or add members (undefined removes one). */
export function sampleEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const event: Record<string, unknown> = {
    specversion: "1.0",
    id: randomUUID(),
    source: "/eventstack/tests",
    type: "dev.eventstack.test.created",
    time: "2024-05-01T12:00:00Z",
    datacontenttype: "application/json",
    data: { hello: "world" },
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete event[k];
    else event[k] = v;
  }
  return event;
}

export const STRUCTURED = { "content-type": "application/cloudevents+json" };
export const BATCH = { "content-type": "application/cloudevents-batch+json" };
