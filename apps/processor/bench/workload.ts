/**
 * The benchmark's events and how they are produced. Records look like the ingest service's (CloudEvents Kafka
 * binding, binary mode: ce_* headers, content-type, x-request-id, key = subject, JSON data as the value), and
 * the expected rollups are computed here, independently of the processor, so the totals check at the end
 * compares two separate computations.
 */
import { randomUUID } from "node:crypto";
import { ProduceAcks, Producer } from "@platformatic/kafka";
import type { Broker } from "@eventstack/runtime";

export interface WorkloadShape {
  /** Distinct event types; events cycle through them. */
  types: number;
  /** Distinct subjects; events cycle through them (one subject's events stay on one partition, by key). */
  subjects: number;
  /** Bytes of the JSON data of each event. */
  dataBytes: number;
}

/** Expected rollups: "type|minuteISO" → count and the set of subjects. */
export type Expected = Map<string, { type: string; minute: number; count: number; subjects: Set<string> }>;

export interface Produced {
  records: number;
  /** Send time (epoch ms, just before the send call) of every record, by partition then offset. */
  sentAt: Map<number, Map<bigint, number>>;
  /** Wall-clock seconds the producing took. */
  seconds: number;
}

type Record = { topic: string; key: Buffer; value: Buffer; headers: Map<Buffer, Buffer> };

const h = (k: string, v: string): [Buffer, Buffer] => [Buffer.from(k), Buffer.from(v)];

export class Workload {
  readonly expected: Expected = new Map();
  readonly #shape: WorkloadShape;
  readonly #run: string;
  readonly #data: Buffer;
  #next = 0;

  constructor(shape: WorkloadShape, run: string) {
    this.#shape = shape;
    this.#run = run;
    this.#data = Buffer.from(JSON.stringify({ payload: "x".repeat(Math.max(0, shape.dataBytes - 14)) }));
  }

  get count(): number {
    return this.#next;
  }

  /** The next event as a Kafka record, with `time` = now (so minutes are wall-clock minutes). */
  record(topic: string, now: number): Record {
    const { record, type, subject } = this.#build(this.#next++, topic, now);
    const minute = Math.floor(now / 60_000) * 60_000;
    const key = `${type}|${new Date(minute).toISOString()}`;
    let e = this.expected.get(key);
    if (!e) this.expected.set(key, (e = { type, minute, count: 0, subjects: new Set() }));
    e.count++;
    e.subjects.add(subject);
    return record;
  }

  /** Bytes of one record as the broker stores it (key + value + header names and values). */
  recordBytes(topic: string): number {
    const { record } = this.#build(0, topic, Date.now());
    let bytes = record.key.length + record.value.length;
    for (const [k, v] of record.headers) bytes += k.length + v.length;
    return bytes;
  }

  #build(i: number, topic: string, now: number): { record: Record; type: string; subject: string } {
    const type = `dev.eventstack.bench.t${i % this.#shape.types}`;
    const subject = `entity-${i % this.#shape.subjects}`;
    const record = {
      topic,
      key: Buffer.from(subject),
      value: this.#data,
      headers: new Map([
        h("ce_specversion", "1.0"),
        h("ce_id", `${this.#run}-${i}`),
        h("ce_source", "/eventstack/bench"),
        h("ce_type", type),
        h("ce_subject", subject),
        h("ce_time", new Date(now).toISOString()),
        h("content-type", "application/json"),
        h("x-request-id", randomUUID()),
      ]),
    };
    return { record, type, subject };
  }

  /** Expected per-type totals. */
  totalsByType(): Map<string, number> {
    const m = new Map<string, number>();
    for (const e of this.expected.values()) m.set(e.type, (m.get(e.type) ?? 0) + e.count);
    return m;
  }
}

function newProducer(brokers: Broker[]) {
  // The ingest service's settings: acks from all in-sync replicas, idempotent.
  return new Producer({ clientId: "bench-producer", bootstrapBrokers: brokers, acks: ProduceAcks.ALL, idempotent: true, autocreateTopics: false });
}

function remember(sentAt: Produced["sentAt"], batch: Record[], partitions: number[], offsets: { partition: number; offset: bigint }[] | undefined, t: number) {
  // The broker assigns consecutive offsets per partition, in message order, from the base offset it returns.
  const base = new Map((offsets ?? []).map((o) => [o.partition, o.offset]));
  const seen = new Map<number, bigint>();
  batch.forEach((_, i) => {
    const p = partitions[i] as number;
    const k = seen.get(p) ?? 0n;
    seen.set(p, k + 1n);
    const b = base.get(p);
    if (b === undefined) return;
    let m = sentAt.get(p);
    if (!m) sentAt.set(p, (m = new Map()));
    m.set(b + k, t);
  });
}

/**
 * Produces `count` events as fast as the producer goes (the backlog the throughput phase drains), or, with
 * `ratePerSec`, at that steady rate in 10 ms slices for `seconds` (the latency phase).
 */
export async function produce(
  workload: Workload,
  brokers: Broker[],
  topic: string,
  partitions: number,
  opts: { count: number; chunk?: number } | { ratePerSec: number; seconds: number },
): Promise<Produced> {
  const producer = newProducer(brokers);
  const sentAt: Produced["sentAt"] = new Map();
  const started = Date.now();
  let records = 0;
  // Partition chosen here (by key, like the default partitioner would, but known to us) to map offsets back.
  const partitionOf = (key: Buffer) => {
    let hash = 0;
    for (const b of key) hash = (hash * 31 + b) | 0;
    return Math.abs(hash) % partitions;
  };
  const send = async (n: number) => {
    const t = Date.now();
    const batch = Array.from({ length: n }, () => workload.record(topic, t));
    const parts = batch.map((r) => partitionOf(r.key));
    const res = await producer.send({ messages: batch.map((r, i) => ({ ...r, partition: parts[i] })) });
    remember(sentAt, batch, parts, res.offsets, t);
    records += n;
  };
  try {
    if ("count" in opts) {
      const chunk = opts.chunk ?? 2000;
      while (records < opts.count) await send(Math.min(chunk, opts.count - records));
    } else {
      const sliceMs = 10;
      const end = started + opts.seconds * 1000;
      let due = 0;
      while (Date.now() < end) {
        due = Math.floor(((Date.now() - started) / 1000) * opts.ratePerSec);
        // At most one backlog-sized send per slice: a producer that fell behind must not build a request over
        // the broker's message size limit; what it cannot keep up with shows as a lower rate, not an error.
        if (due > records) await send(Math.min(due - records, 2000));
        await new Promise((r) => setTimeout(r, sliceMs));
      }
    }
  } finally {
    await producer.close();
  }
  return { records, sentAt, seconds: (Date.now() - started) / 1000 };
}
