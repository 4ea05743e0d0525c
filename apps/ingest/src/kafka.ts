/**
 * The Kafka producer behind POST /v1/events: `produce(records)` resolves only once Kafka acknowledged every record
 * (idempotent producer, acks=all), and rejects with a 503-class error when it cannot within KAFKA_ACK_TIMEOUT_MS.
 *
 * One idempotent producer (one producer id) with up to KAFKA_PRODUCERS produce requests in flight. Requests that
 * arrive while every slot is busy wait in one queue, and the next slot to become free takes all of them that fit
 * one produce request: the batching a Kafka producer does anyway (linger), it bounds in-flight data (at most
 * KAFKA_PRODUCERS requests), and under load it makes fewer, larger produce requests. The library's connection to a
 * broker writes one request at a time for an idempotent client (it forces maxInflights to 1), so several slots do
 * not overlap round trips to one broker; they let one broker's next part go while another broker still answers.
 *
 * The records travel below the client library (src/wire/): each partition's records are encoded in place as one
 * record batch and sent on the library's connection to its leader, with sequence numbers claimed as the batch is
 * written (concurrent requests to one partition carry distinct sequences, platformatic/kafka#326). The library
 * still provides the connections (TLS, SASL/IAM), metadata and the producer id. Measured on the local broker
 * (2026-12-06, 6 partitions, 32 concurrent produce() callers of 100 records): the library's `send()` cost 13.3 µs
 * of CPU per record, the in-place path 2.9 (docs/ingest.md).
 *
 * Order: the parts of one produce() call (a batch larger than KAFKA_MAX_BATCH_BYTES) never travel in two requests
 * at once, so a batch's events with one key stay in order even if a batch is resent. Two requests in flight at the
 * same time have no order between them (the client did not wait for the first's 202).
 *
 * A failed produce request is answered 503 for its events (the client's retry may duplicate them, never lose them).
 * Inside one request, a batch whose leader moved or whose connection failed is resent as the same bytes (same
 * producer id and sequence, so the broker writes it once); any other failure (OUT_OF_ORDER_SEQUENCE_NUMBER or
 * UNKNOWN_PRODUCER_ID among them: the broker's state for the producer id no longer matches ours,
 * platformatic/kafka#309) makes the producer start over with a new producer id. test/produce-path.test.ts holds
 * both to the real broker. A request that outlives KAFKA_ACK_TIMEOUT_MS is answered 503 and its slot freed while
 * the sender goes on with it (it may still be written: the 503 says so); at most KAFKA_PRODUCERS such requests may
 * be outstanding, and no new request starts while that many are.
 */
import { ProduceAcks, Producer, compatibilityPartitioner, stringSerializer } from "@platformatic/kafka";
import type { FastifyBaseLogger } from "fastify";
import type { Config } from "./config.js";
import { ErrorCodes, KafkaUnavailableError, OverloadedError, ShuttingDownError } from "./errors.js";
import { kafkaSecurity } from "@eventstack/runtime";
import type { KafkaRecord } from "./kafka-record.js";
import type { Metrics } from "./metrics.js";
import { IdempotentSender } from "./wire/index.js";

type Client = Producer<Buffer, Buffer, string, string>;

/** One produce() call. `parts` is how many of its parts are not yet acknowledged. */
interface Job {
  events: number;
  parts: number;
  settled: boolean;
  /** The produce request that carries some of its parts now; its other parts wait for that one (order). */
  carrier: InFlight | undefined;
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
  slot: Slot;
  parts: Part[];
  watchdog: NodeJS.Timeout;
  startedAt: number;
}

/** One of KAFKA_PRODUCERS places for a produce request in flight; an answer for a request that is no longer its `inFlight` is ignored. */
interface Slot {
  index: number;
  inFlight: InFlight | undefined;
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
  readonly #client: Client;
  readonly #sender: IdempotentSender;
  readonly #slots: Slot[];
  #queue: Part[] = [];
  #pumpScheduled = false;
  #pendingEvents = 0;
  /** Sends the watchdog gave up on that have not ended yet; at most KAFKA_PRODUCERS, so they cannot pile up. */
  #abandoned = 0;
  #closing = false;
  #idle: (() => void)[] = [];
  #readiness: Promise<Readiness> | undefined;

  constructor(options: EventProducerOptions) {
    this.#options = options;
    this.#client = this.#createClient();
    const { kafka } = options;
    this.#sender = new IdempotentSender({
      client: this.#client,
      topic: kafka.topic,
      acks: ProduceAcks.ALL,
      timeoutMs: kafka.ackTimeoutMs,
      retries: CLIENT_DEFAULTS.retries,
      retryDelayMs: CLIENT_DEFAULTS.retryDelay,
    });
    this.#slots = Array.from({ length: options.kafka.producers }, (_, index) => ({ index, inFlight: undefined }));
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
      const job: Job = { events: records.length, parts: 0, settled: false, carrier: undefined, timer: undefined as unknown as NodeJS.Timeout, resolve, reject };
      let part: Part = { job, records: [], bytes: 0 };
      for (const r of records) {
        if (part.records.length > 0 && part.bytes + r.size > kafka.maxBatchBytes) {
          this.#enqueue(part);
          part = { job, records: [], bytes: 0 };
        }
        part.records.push(r);
        part.bytes += r.size;
      }
      this.#enqueue(part);
      job.timer = setTimeout(() => {
        metrics.produceErrors.inc({ reason: "timeout" }, job.events);
        this.#settle(job, new KafkaUnavailableError(ErrorCodes.KAFKA_TIMEOUT, `Kafka did not acknowledge the events within ${kafka.ackTimeoutMs} ms`));
      }, kafka.ackTimeoutMs);
      this.#pendingEvents += job.events;
      metrics.pendingEvents.set(this.#pendingEvents);
      this.#schedulePump();
    });
  }

  #enqueue(part: Part): void {
    this.#queue.push(part);
    part.job.parts++;
  }

  /**
   * Pumps once the current turn of the event loop is over (setImmediate runs after the poll phase): every request
   * whose body was read in this turn joins the same produce request instead of taking a slot each. Measured
   * under load, per-request produce calls cost more CPU in the client library than the HTTP handling itself.
   */
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
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

  /** Gives queued parts to free slots, one produce request each, until no slot is free or nothing can go. */
  #pump(): void {
    // A broker too slow for the watchdog: new requests wait (and time out in the queue) until abandoned ones end.
    while (this.#queue.length > 0 && this.#abandoned < this.#slots.length) {
      const slot = this.#slots.find((s) => s.inFlight === undefined);
      if (!slot) return; // the next request to finish pumps again
      if (!this.#send(slot)) break;
    }
    if (this.#queue.length === 0 && this.#slots.every((s) => s.inFlight === undefined)) {
      for (const wake of this.#idle.splice(0)) wake();
    }
  }

  /** Starts a produce request in the free slot with the queued parts that fit; false when none could go. */
  #send(slot: Slot): boolean {
    const { maxBatchBytes } = this.#options.kafka;
    const inFlight: InFlight = { slot, parts: [], watchdog: undefined as unknown as NodeJS.Timeout, startedAt: 0 };
    const parts = inFlight.parts;
    let bytes = 0;
    const kept: Part[] = [];
    let i = 0;
    for (; i < this.#queue.length; i++) {
      const next = this.#queue[i] as Part;
      if (next.job.settled) continue; // its job already failed (timed out): never produce it late
      if (next.job.carrier !== undefined && next.job.carrier !== inFlight) {
        kept.push(next); // an earlier part of its job is in flight in another request: keep the job's order
        continue;
      }
      if (parts.length > 0 && bytes + next.bytes > maxBatchBytes) break;
      parts.push(next);
      bytes += next.bytes;
      next.job.carrier = inFlight;
    }
    this.#queue = kept.length === 0 && i === 0 ? this.#queue : kept.concat(this.#queue.slice(i));
    if (parts.length === 0) return false;

    const { kafka, metrics } = this.#options;
    let records: KafkaRecord[];
    if (parts.length === 1) {
      records = (parts[0] as Part).records;
    } else {
      records = [];
      for (const part of parts) for (const r of part.records) records.push(r);
    }
    inFlight.startedAt = performance.now();
    inFlight.watchdog = setTimeout(() => this.#onWatchdog(inFlight), kafka.ackTimeoutMs);
    slot.inFlight = inFlight;
    metrics.sendEvents.observe(records.length);
    this.#sender.send(records).then(
      () => this.#onSent(inFlight, undefined),
      (error: unknown) => this.#onSent(inFlight, error),
    );
    return true;
  }

  #onSent(inFlight: InFlight, error: unknown): void {
    const { slot } = inFlight;
    if (slot.inFlight !== inFlight) {
      // Abandoned by the watchdog; its jobs were answered already.
      this.#abandoned--;
      this.#pump();
      return;
    }
    clearTimeout(inFlight.watchdog);
    slot.inFlight = undefined;
    const { metrics, logger } = this.#options;
    metrics.sendDuration.observe((performance.now() - inFlight.startedAt) / 1e3);
    if (error === undefined) {
      let produced = 0;
      for (const part of inFlight.parts) {
        produced += part.records.length;
        if (part.job.carrier === inFlight) part.job.carrier = undefined;
        if (--part.job.parts === 0) this.#settle(part.job);
      }
      metrics.eventsProduced.inc(produced);
    } else {
      // Whatever failed, the sender's next request takes a new producer id if this one's sequences may be off.
      logger.warn({ err: error, events: countRecords(inFlight.parts), slot: slot.index }, "Kafka produce request failed; answering 503");
      this.#failParts(inFlight.parts, new KafkaUnavailableError(ErrorCodes.KAFKA_UNAVAILABLE, "Kafka did not accept the events", { cause: error }), "error");
      metrics.producerResets.inc({ reason: "error" });
    }
    this.#pump();
  }

  /**
   * The produce request outlived KAFKA_ACK_TIMEOUT_MS: answer its events 503 and free its slot. The sender goes on
   * with it until it ends (the connection's request timeout, counted from when the request left the connection's
   * queue); until then it counts among the abandoned requests #pump bounds.
   */
  #onWatchdog(inFlight: InFlight): void {
    const { slot } = inFlight;
    if (slot.inFlight !== inFlight) return;
    slot.inFlight = undefined;
    this.#abandoned++;
    this.#options.logger.warn({ events: countRecords(inFlight.parts), timeoutMs: this.#options.kafka.ackTimeoutMs, slot: slot.index }, "Kafka produce request timed out; answering 503");
    this.#failParts(inFlight.parts, new KafkaUnavailableError(ErrorCodes.KAFKA_TIMEOUT, `Kafka did not acknowledge the events within ${this.#options.kafka.ackTimeoutMs} ms`), "timeout");
    this.#options.metrics.producerResets.inc({ reason: "timeout" });
    this.#pump();
  }

  #failParts(parts: Part[], error: Error, reason: "error" | "timeout"): void {
    for (const part of parts) {
      if (!part.job.settled) this.#options.metrics.produceErrors.inc({ reason }, part.job.events);
      this.#settle(part.job, error);
    }
  }

  /**
   * Whether Kafka can take events now: the client gets fresh metadata for the topic, with a leader for every
   * partition. Concurrent probes share one metadata request, so a flood of probes never becomes a flood of
   * connection attempts.
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
      if (this.#slots.every((s) => s.inFlight === undefined) && this.#queue.every((p) => p.job.settled)) resolve();
      else this.#idle.push(resolve);
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const outcome = await Promise.race([drained, deadline]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      const parts = [...this.#slots.flatMap((s) => s.inFlight?.parts ?? []), ...this.#queue];
      this.#failParts(parts, new KafkaUnavailableError(ErrorCodes.KAFKA_TIMEOUT, "the service shut down before Kafka acknowledged the events"), "timeout");
      for (const s of this.#slots) {
        if (s.inFlight) clearTimeout(s.inFlight.watchdog);
        s.inFlight = undefined;
      }
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
