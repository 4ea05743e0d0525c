/**
 * The Kafka producer behind POST /v1/events: `produce(records)` resolves only once Kafka acknowledged every record
 * (idempotent producer, acks=all), and rejects with a 503-class error when it cannot within KAFKA_ACK_TIMEOUT_MS.
 *
 * One produce request at a time per producer session. @platformatic/kafka 1.35 reads an idempotent partition's
 * sequence number when it builds a request, and advances it only on the response: two concurrent send() calls to
 * one partition from one client carry the same sequence, the broker takes the second for a retry of the first, and
 * acknowledges it without writing it (platformatic/kafka#326; we reproduced it against the local broker: 20
 * concurrent sends, 20 acks, 1 record). Sequence numbers belong to a producer id, so the constraint is per client:
 * KAFKA_PRODUCERS clients (sessions), each its own producer id, each with at most one produce request in flight.
 * Requests that arrive while every session is busy wait in one queue, and the next session to become idle takes
 * all of them that fit one produce request. That is the batching a Kafka producer does anyway (linger), it bounds
 * in-flight data (at most KAFKA_PRODUCERS requests), and under load it makes fewer, larger produce requests, while
 * the sessions keep the broker's request handling and the network round trip overlapped.
 *
 * Order: the parts of one produce() call (a batch larger than KAFKA_MAX_BATCH_BYTES) never travel in two sessions
 * at once, so a batch's events with one key stay in order. Two requests in flight at the same time have no order
 * between them (the client did not wait for the first's 202), so they may go through different sessions.
 *
 * A failed or timed-out produce request ends its idempotent session: that client is closed and a new one (new
 * producer id) takes its place; the other sessions go on. The library keeps the failed request's sequence numbers
 * otherwise, so the next batch could reuse them and be acknowledged as a "duplicate" without being written if the
 * failed one did land; it also does not recover by itself from UNKNOWN_PRODUCER_ID (platformatic/kafka#309, fixed
 * only in 2.x). Events of a failed request are answered 503 and never resent by us: the client's retry may
 * duplicate them, never lose them.
 */
import { ProduceAcks, Producer, compatibilityPartitioner, stringSerializer, type MessageToProduce } from "@platformatic/kafka";
import type { FastifyBaseLogger } from "fastify";
import type { Config } from "./config.js";
import { ErrorCodes, KafkaUnavailableError, OverloadedError, ShuttingDownError } from "./errors.js";
import { kafkaSecurity } from "@eventstack/runtime";
import type { KafkaRecord } from "./kafka-record.js";
import type { Metrics } from "./metrics.js";

type Client = Producer<Buffer, Buffer, string, string>;
type Message = MessageToProduce<Buffer, Buffer, string, string>;

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

/** A slice of a job's records that fits one produce request, already in the library's message form. */
interface Part {
  job: Job;
  messages: Message[];
  bytes: number;
}

interface InFlight {
  session: Session;
  parts: Part[];
  watchdog: NodeJS.Timeout;
  startedAt: number;
}

/** One idempotent producer (one producer id) with at most one produce request in flight. */
interface Session {
  index: number;
  /** Replaced after a failed request; an answer for a request that is no longer `inFlight` is ignored. */
  client: Client;
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
  readonly #sessions: Session[];
  #queue: Part[] = [];
  #pumpScheduled = false;
  #pendingEvents = 0;
  #closing = false;
  #idle: (() => void)[] = [];
  #readiness: Promise<Readiness> | undefined;

  constructor(options: EventProducerOptions) {
    this.#options = options;
    this.#sessions = Array.from({ length: options.kafka.producers }, (_, index) => ({
      index,
      client: this.#createClient(),
      inFlight: undefined,
    }));
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
      const topic = kafka.topic;
      let part: Part = { job, messages: [], bytes: 0 };
      for (const r of records) {
        if (part.messages.length > 0 && part.bytes + r.size > kafka.maxBatchBytes) {
          this.#enqueue(part);
          part = { job, messages: [], bytes: 0 };
        }
        // A record without value (an event without data) must still name `value` for the library's validator.
        part.messages.push({ topic, key: r.key, value: r.value as Buffer, headers: r.headers });
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
   * whose body was read in this turn joins the same produce request instead of taking a session each. Measured
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

  /** Gives queued parts to idle sessions, one produce request each, until no session is idle or nothing can go. */
  #pump(): void {
    while (this.#queue.length > 0) {
      const session = this.#sessions.find((s) => s.inFlight === undefined);
      if (!session) return; // the next session to finish pumps again
      if (!this.#send(session)) break;
    }
    if (this.#queue.length === 0 && this.#sessions.every((s) => s.inFlight === undefined)) {
      for (const wake of this.#idle.splice(0)) wake();
    }
  }

  /** Starts a produce request on the idle session with the queued parts that fit; false when none could go. */
  #send(session: Session): boolean {
    const { maxBatchBytes } = this.#options.kafka;
    const inFlight: InFlight = { session, parts: [], watchdog: undefined as unknown as NodeJS.Timeout, startedAt: 0 };
    const parts = inFlight.parts;
    let bytes = 0;
    const kept: Part[] = [];
    let i = 0;
    for (; i < this.#queue.length; i++) {
      const next = this.#queue[i] as Part;
      if (next.job.settled) continue; // its job already failed (timed out): never produce it late
      if (next.job.carrier !== undefined && next.job.carrier !== inFlight) {
        kept.push(next); // an earlier part of its job is in flight in another session: keep the job's order
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
    let messages: Message[];
    if (parts.length === 1) {
      messages = (parts[0] as Part).messages;
    } else {
      messages = [];
      for (const part of parts) for (const m of part.messages) messages.push(m);
    }
    inFlight.startedAt = performance.now();
    inFlight.watchdog = setTimeout(() => this.#onWatchdog(inFlight), kafka.ackTimeoutMs);
    session.inFlight = inFlight;
    metrics.sendEvents.observe(messages.length);
    session.client.send({ messages }).then(
      () => this.#onSent(inFlight, undefined),
      (error: unknown) => this.#onSent(inFlight, error),
    );
    return true;
  }

  #onSent(inFlight: InFlight, error: unknown): void {
    const { session } = inFlight;
    if (session.inFlight !== inFlight) return; // abandoned by the watchdog; its jobs were answered already
    clearTimeout(inFlight.watchdog);
    session.inFlight = undefined;
    const { metrics, logger } = this.#options;
    metrics.sendDuration.observe((performance.now() - inFlight.startedAt) / 1e3);
    if (error === undefined) {
      let produced = 0;
      for (const part of inFlight.parts) {
        produced += part.messages.length;
        if (part.job.carrier === inFlight) part.job.carrier = undefined;
        if (--part.job.parts === 0) this.#settle(part.job);
      }
      metrics.eventsProduced.inc(produced);
    } else {
      logger.warn({ err: error, events: countMessages(inFlight.parts), session: session.index }, "Kafka produce request failed; answering 503 and starting a new producer session");
      this.#failParts(inFlight.parts, new KafkaUnavailableError(ErrorCodes.KAFKA_UNAVAILABLE, "Kafka did not accept the events", { cause: error }), "error");
      this.#reset(session, "error");
    }
    this.#pump();
  }

  /** The produce request outlived KAFKA_ACK_TIMEOUT_MS: stop waiting for it and give the session a fresh client. */
  #onWatchdog(inFlight: InFlight): void {
    const { session } = inFlight;
    if (session.inFlight !== inFlight) return;
    session.inFlight = undefined;
    this.#options.logger.warn({ events: countMessages(inFlight.parts), timeoutMs: this.#options.kafka.ackTimeoutMs, session: session.index }, "Kafka produce request timed out; answering 503 and starting a new producer session");
    this.#failParts(inFlight.parts, new KafkaUnavailableError(ErrorCodes.KAFKA_TIMEOUT, `Kafka did not acknowledge the events within ${this.#options.kafka.ackTimeoutMs} ms`), "timeout");
    this.#reset(session, "timeout");
    this.#pump();
  }

  #failParts(parts: Part[], error: Error, reason: "error" | "timeout"): void {
    for (const part of parts) {
      if (!part.job.settled) this.#options.metrics.produceErrors.inc({ reason }, part.job.events);
      this.#settle(part.job, error);
    }
  }

  #reset(session: Session, reason: "error" | "timeout"): void {
    const old = session.client;
    session.client = this.#createClient();
    this.#readiness = undefined;
    this.#options.metrics.producerResets.inc({ reason });
    old.close(true, (err) => {
      if (err) this.#options.logger.debug({ err }, "closing the replaced Kafka client failed");
    });
  }

  /**
   * Whether Kafka can take events now: every session's client gets fresh metadata for the topic, with a leader
   * for every partition (a session that cannot would fail the requests it takes). Concurrent probes share one
   * round of metadata requests, so a flood of probes never becomes a flood of connection attempts.
   */
  checkReady(): Promise<Readiness> {
    this.#readiness ??= this.#probeAll().finally(() => {
      this.#readiness = undefined;
    });
    return this.#readiness;
  }

  async #probeAll(): Promise<Readiness> {
    const results = await Promise.all(this.#sessions.map((s) => this.#probe(s.client)));
    // The first session's detail when all are ready; otherwise the first reason a session is not.
    return results.find((r) => !r.ready) ?? (results[0] as Readiness);
  }

  async #probe(client: Client): Promise<Readiness> {
    const { topic, ackTimeoutMs } = this.#options.kafka;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Readiness>((resolve) => {
      timer = setTimeout(() => resolve({ ready: false, detail: `no metadata from Kafka within ${ackTimeoutMs} ms` }), ackTimeoutMs);
    });
    const probe = client.metadata({ topics: [topic], forceUpdate: true }).then(
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
   * closes every session's client. Jobs still waiting at the deadline are answered 503.
   */
  async close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    const drained = new Promise<void>((resolve) => {
      if (this.#sessions.every((s) => s.inFlight === undefined) && this.#queue.every((p) => p.job.settled)) resolve();
      else this.#idle.push(resolve);
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const outcome = await Promise.race([drained, deadline]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      const parts = [...this.#sessions.flatMap((s) => s.inFlight?.parts ?? []), ...this.#queue];
      this.#failParts(parts, new KafkaUnavailableError(ErrorCodes.KAFKA_TIMEOUT, "the service shut down before Kafka acknowledged the events"), "timeout");
      for (const s of this.#sessions) {
        if (s.inFlight) clearTimeout(s.inFlight.watchdog);
        s.inFlight = undefined;
      }
      this.#queue = [];
    }
    await Promise.all(this.#sessions.map((s) => new Promise<void>((resolve) => s.client.close(true, () => resolve()))));
  }
}

function countMessages(parts: Part[]): number {
  return parts.reduce((n, p) => n + p.messages.length, 0);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // The library wraps the cause (e.g. ECONNREFUSED) in a generic MultipleErrors; name the innermost one.
  const inner = (err as Error & { errors?: unknown[] }).errors?.[0];
  return inner instanceof Error && inner !== err ? `${err.message} (${describe(inner)})` : err.message;
}
