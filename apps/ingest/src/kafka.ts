/**
 * The Kafka producer behind POST /v1/events: `produce(records)` resolves only once Kafka acknowledged every record
 * (idempotent producer, acks=all), and rejects with a 503-class error when it cannot within KAFKA_ACK_TIMEOUT_MS.
 *
 * One produce request at a time. @platformatic/kafka 1.35 reads an idempotent partition's sequence number when
 * it builds a request, and advances it only on the response: two concurrent send() calls to one partition carry
 * the same sequence, the broker takes the second for a retry of the first, and acknowledges it without writing it
 * (platformatic/kafka#326; we reproduced it against the local broker: 20 concurrent sends, 20 acks, 1 record).
 * So requests that arrive while a produce request is in flight wait, and all of them go out together in the next
 * one. That is the batching a Kafka producer does anyway (linger), it bounds in-flight data, and under load it
 * makes fewer, larger produce requests.
 *
 * A failed or timed-out produce request ends the idempotent session: the client is closed and a new one (new
 * producer id) takes over. The library keeps the failed request's sequence numbers otherwise, so the next batch
 * could reuse them and be acknowledged as a "duplicate" without being written if the failed one did land; it also
 * does not recover by itself from UNKNOWN_PRODUCER_ID (platformatic/kafka#309, fixed only in 2.x). Events of a
 * failed request are answered 503 and never resent by us: the client's retry may duplicate them, never lose them.
 */
import { ProduceAcks, Producer, compatibilityPartitioner, stringSerializer, type MessageToProduce } from "@platformatic/kafka";
import type { FastifyBaseLogger } from "fastify";
import type { Config } from "./config.js";
import { ErrorCodes, KafkaUnavailableError, OverloadedError, ShuttingDownError } from "./errors.js";
import { kafkaSecurity } from "./kafka-auth.js";
import type { KafkaRecord } from "./kafka-record.js";
import type { Metrics } from "./metrics.js";

type Client = Producer<Buffer, Buffer, string, string>;

/** One produce() call. `parts` is how many of its parts are not yet acknowledged. */
interface Job {
  events: number;
  parts: number;
  settled: boolean;
  timer: NodeJS.Timeout;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** A slice of a job's records that fits one produce request. */
interface Part {
  job: Job;
  records: KafkaRecord[];
  bytes: number;
}

interface InFlight {
  session: number;
  parts: Part[];
  watchdog: NodeJS.Timeout;
  startedAt: bigint;
}

export interface EventProducerOptions {
  kafka: Config["kafka"];
  awsRegion: string | undefined;
  maxPendingEvents: number;
  metrics: Metrics;
  logger: FastifyBaseLogger;
}

export interface Readiness {
  ready: boolean;
  detail: string;
}

// Retries inside one produce request (same producer id and sequence, so the broker de-duplicates them) cover a
// leader move; anything longer is the watchdog's to end.
const CLIENT_DEFAULTS = {
  retries: 3,
  retryDelay: 250,
  metadataMaxAge: 30_000,
} as const;

export class EventProducer {
  readonly #options: EventProducerOptions;
  #client: Client;
  /** Incremented each time the client is replaced; answers from an older session are ignored. */
  #session = 0;
  #queue: Part[] = [];
  #inFlight: InFlight | undefined;
  #pendingEvents = 0;
  #closing = false;
  #idle: (() => void)[] = [];
  #readiness: Promise<Readiness> | undefined;

  constructor(options: EventProducerOptions) {
    this.#options = options;
    this.#client = this.#createClient();
  }

  get pendingEvents(): number {
    return this.#pendingEvents;
  }

  #createClient(): Client {
    const { kafka, awsRegion } = this.#options;
    return new Producer<Buffer, Buffer, string, string>({
      clientId: kafka.clientId,
      bootstrapBrokers: kafka.brokers.map((b) => `${b.host}:${b.port}`),
      idempotent: true,
      acks: ProduceAcks.ALL,
      // Java's partitioner (murmur2 & 0x7fffffff): a key lands on the same partition whichever client wrote it.
      // The library's default (murmur2 >>> 0) puts about half of all keys elsewhere.
      partitioner: compatibilityPartitioner,
      autocreateTopics: false,
      timeout: kafka.ackTimeoutMs,
      requestTimeout: kafka.ackTimeoutMs,
      connectTimeout: kafka.connectTimeoutMs,
      ...CLIENT_DEFAULTS,
      serializers: { headerKey: stringSerializer, headerValue: stringSerializer },
      ...kafkaSecurity(kafka, awsRegion),
    });
  }

  /**
   * Queues the records and resolves when Kafka acknowledged all of them. Throws OverloadedError (nothing queued)
   * when the queue is full, ShuttingDownError after close() began.
   */
  produce(records: KafkaRecord[]): Promise<void> {
    if (this.#closing) return Promise.reject(new ShuttingDownError());
    if (records.length === 0) return Promise.resolve();
    const { maxPendingEvents, kafka, metrics } = this.#options;
    if (this.#pendingEvents + records.length > maxPendingEvents) {
      return Promise.reject(
        new OverloadedError(`${this.#pendingEvents} events are already waiting for Kafka; at most ${maxPendingEvents} may wait`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const job: Job = { events: records.length, parts: 0, settled: false, timer: undefined as unknown as NodeJS.Timeout, resolve, reject };
      let part: Part = { job, records: [], bytes: 0 };
      for (const record of records) {
        if (part.records.length > 0 && part.bytes + record.size > kafka.maxBatchBytes) {
          this.#queue.push(part);
          job.parts++;
          part = { job, records: [], bytes: 0 };
        }
        part.records.push(record);
        part.bytes += record.size;
      }
      this.#queue.push(part);
      job.parts++;
      job.timer = setTimeout(() => {
        metrics.produceErrors.inc({ reason: "timeout" }, job.events);
        this.#settle(job, new KafkaUnavailableError(ErrorCodes.KAFKA_TIMEOUT, `Kafka did not acknowledge the events within ${kafka.ackTimeoutMs} ms`));
      }, kafka.ackTimeoutMs);
      this.#pendingEvents += job.events;
      metrics.pendingEvents.set(this.#pendingEvents);
      this.#pump();
    });
  }

  #settle(job: Job, error?: Error): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    this.#pendingEvents -= job.events;
    this.#options.metrics.pendingEvents.set(this.#pendingEvents);
    if (error) job.reject(error);
    else job.resolve();
  }

  /** Starts the next produce request with every queued part that fits, unless one is in flight. */
  #pump(): void {
    if (this.#inFlight) return;
    const parts: Part[] = [];
    let bytes = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0] as Part;
      if (next.job.settled) {
        this.#queue.shift(); // its job already failed (timed out): never produce it late
        continue;
      }
      if (parts.length > 0 && bytes + next.bytes > this.#options.kafka.maxBatchBytes) break;
      parts.push(next);
      bytes += next.bytes;
      this.#queue.shift();
    }
    if (parts.length === 0) {
      for (const wake of this.#idle.splice(0)) wake();
      return;
    }

    const { kafka, metrics } = this.#options;
    const messages: MessageToProduce<Buffer, Buffer, string, string>[] = [];
    for (const part of parts) {
      for (const r of part.records) {
        // A record without value (an event without data) must still name `value` for the library's validator.
        messages.push({ topic: kafka.topic, key: r.key, value: r.value as Buffer, headers: r.headers });
      }
    }
    const session = this.#session;
    const inFlight: InFlight = {
      session,
      parts,
      startedAt: process.hrtime.bigint(),
      watchdog: setTimeout(() => this.#onWatchdog(inFlight), kafka.ackTimeoutMs),
    };
    this.#inFlight = inFlight;
    metrics.sendEvents.observe(messages.length);
    this.#client.send({ messages }).then(
      () => this.#onSent(inFlight, undefined),
      (error: unknown) => this.#onSent(inFlight, error),
    );
  }

  #onSent(inFlight: InFlight, error: unknown): void {
    if (this.#inFlight !== inFlight) return; // abandoned by the watchdog; its jobs were answered already
    clearTimeout(inFlight.watchdog);
    this.#inFlight = undefined;
    const { metrics, logger } = this.#options;
    metrics.sendDuration.observe(Number(process.hrtime.bigint() - inFlight.startedAt) / 1e9);
    if (error === undefined) {
      let produced = 0;
      for (const part of inFlight.parts) {
        produced += part.records.length;
        if (--part.job.parts === 0) this.#settle(part.job);
      }
      metrics.eventsProduced.inc(produced);
    } else {
      logger.warn({ err: error, events: countRecords(inFlight.parts) }, "Kafka produce request failed; answering 503 and starting a new producer session");
      this.#failParts(inFlight.parts, new KafkaUnavailableError(ErrorCodes.KAFKA_UNAVAILABLE, "Kafka did not accept the events", { cause: error }), "error");
      this.#reset("error");
    }
    this.#pump();
  }

  /** The produce request outlived KAFKA_ACK_TIMEOUT_MS: stop waiting for it and go on with a fresh client. */
  #onWatchdog(inFlight: InFlight): void {
    if (this.#inFlight !== inFlight) return;
    this.#inFlight = undefined;
    this.#options.logger.warn({ events: countRecords(inFlight.parts), timeoutMs: this.#options.kafka.ackTimeoutMs }, "Kafka produce request timed out; answering 503 and starting a new producer session");
    this.#failParts(inFlight.parts, new KafkaUnavailableError(ErrorCodes.KAFKA_TIMEOUT, `Kafka did not acknowledge the events within ${this.#options.kafka.ackTimeoutMs} ms`), "timeout");
    this.#reset("timeout");
    this.#pump();
  }

  #failParts(parts: Part[], error: Error, reason: "error" | "timeout"): void {
    for (const part of parts) {
      if (!part.job.settled) this.#options.metrics.produceErrors.inc({ reason }, part.job.events);
      this.#settle(part.job, error);
    }
  }

  #reset(reason: "error" | "timeout"): void {
    const old = this.#client;
    this.#session++;
    this.#client = this.#createClient();
    this.#readiness = undefined;
    this.#options.metrics.producerResets.inc({ reason });
    old.close(true, (err) => {
      if (err) this.#options.logger.debug({ err }, "closing the replaced Kafka client failed");
    });
  }

  /**
   * Whether Kafka can take events now: fresh metadata for the topic, with a leader for every partition. Concurrent
   * probes share one metadata request, so a flood of probes never becomes a flood of connection attempts.
   */
  checkReady(): Promise<Readiness> {
    this.#readiness ??= this.#probe().finally(() => {
      this.#readiness = undefined;
    });
    return this.#readiness;
  }

  async #probe(): Promise<Readiness> {
    const { topic, ackTimeoutMs } = this.#options.kafka;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Readiness>((resolve) => {
      timer = setTimeout(() => resolve({ ready: false, detail: `no metadata from Kafka within ${ackTimeoutMs} ms` }), ackTimeoutMs);
    });
    const probe = this.#client.metadata({ topics: [topic], forceUpdate: true }).then(
      (metadata): Readiness => {
        const t = metadata.topics.get(topic);
        if (!t) return { ready: false, detail: `topic ${topic} does not exist` };
        const leaderless = t.partitions.filter((p) => p.leader < 0).length;
        if (leaderless > 0) return { ready: false, detail: `${leaderless} of ${t.partitionsCount} partitions of ${topic} have no leader` };
        return { ready: true, detail: `topic ${topic} has ${t.partitionsCount} partitions` };
      },
      (err: unknown): Readiness =>
        // With autocreateTopics off the library reports a missing topic as this UserError.
        err instanceof Error && err.message === `Unknown topic ${topic}.`
          ? { ready: false, detail: `topic ${topic} does not exist` }
          : { ready: false, detail: `Kafka metadata request failed: ${describe(err)}` },
    );
    try {
      return await Promise.race([probe, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stops taking events, waits until every queued event is acknowledged or failed (at most `timeoutMs`), then
   * closes the client. Jobs still waiting at the deadline are answered 503.
   */
  async close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    const drained = new Promise<void>((resolve) => {
      if (!this.#inFlight && this.#queue.every((p) => p.job.settled)) resolve();
      else this.#idle.push(resolve);
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const outcome = await Promise.race([drained, deadline]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      const parts = [...(this.#inFlight?.parts ?? []), ...this.#queue];
      this.#failParts(parts, new KafkaUnavailableError(ErrorCodes.KAFKA_TIMEOUT, "the service shut down before Kafka acknowledged the events"), "timeout");
      if (this.#inFlight) clearTimeout(this.#inFlight.watchdog);
      this.#inFlight = undefined;
      this.#queue = [];
    }
    await new Promise<void>((resolve) => this.#client.close(true, () => resolve()));
  }
}

function countRecords(parts: Part[]): number {
  return parts.reduce((n, p) => n + p.records.length, 0);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // The library wraps the cause (e.g. ECONNREFUSED) in a generic MultipleErrors; name the innermost one.
  const inner = (err as Error & { errors?: unknown[] }).errors?.[0];
  return inner instanceof Error && inner !== err ? `${err.message} (${describe(inner)})` : err.message;
}
