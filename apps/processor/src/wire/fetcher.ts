/**
 * The consumer's fetch loop: the records of the partitions the group assigns to this member, fetched from the
 * group's committed offsets, handed over through a cursor over the response bytes (fetch-response.ts keeps them,
 * record-batches.ts reads them) with no object per record.
 *
 * Why not the client's MessagesStream: group membership, offset commits, metadata, connections and the Fetch
 * request encoding stay with @platformatic/kafka (Consumer.joinGroup, Consumer.commit, Consumer.metadata,
 * ConnectionPool, fetchV17.createRequest); only the loop that turns fetch responses into records is ours. The
 * stream builds, for every record, a spread copy of the parsed record, a Map of its headers, a bound commit
 * function, a diagnostics context and a message object, then pushes it through a Readable one at a time.
 * Measured on the benchmark's records (docs/processor.md#benchmark) that cost about 9 µs of the processor's
 * only thread per record, the largest single cost the processor had; the client's parsed records alone
 * (Consumer.fetch) cost 3.5 µs, reading the bytes in place less than 1 µs.
 *
 * What it keeps from the stream's behaviour:
 *   - it starts from the group's committed offset of each assigned partition, or the earliest offset when the
 *     group has none, and starts over from the committed offsets after every group join (a rebalance), dropping
 *     what it had buffered and any response still in flight;
 *   - a fetch is in flight per partition leader at most, and none while `maxBufferedBytes` of fetched record
 *     sets wait to be read (backpressure); with about one response's worth, the next fetch is on its way while
 *     the current response is read, instead of starting only once it has all been read;
 *   - records before the requested offset (a response may start at the batch holding it) and control batches
 *     (transaction markers) are skipped, and the position moves past both;
 *   - fetches use a connection pool of their own, so a long-poll fetch never queues the group's heartbeats and
 *     offset commits behind it on one connection;
 *   - a fetch error the client's own retries did not clear fails the fetcher, and the consumer with it (a timed-out
 *     Fetch is retried as well: see #withRetries).
 */
import { ConnectionPool, FetchIsolationLevels, ListOffsetTimestamps, TimeoutError, type Consumer, type ConnectionOptions } from "@platformatic/kafka";
import { rawFetchV17 } from "./fetch-response.js";
import { RecordCursor, type FetchedRecord, type RecordChunk } from "./record-batches.js";

export type { FetchedRecord };

export interface FetcherOptions {
  topic: string;
  /** Limit of a whole fetch response, bytes. */
  maxBytes: number;
  /** Limit of one partition's part of a response, bytes. */
  maxBytesPerPartition: number;
  /** How long the broker holds a fetch that has nothing to return, ms. */
  maxWaitTime: number;
  /** No new fetch starts while record sets of at least this many bytes wait to be read to their end. */
  maxBufferedBytes: number;
  /** Options of the fetch connections: the consumer's TLS and SASL settings. */
  connection: ConnectionOptions;
  clientId: string;
}

/**
 * Every Fetch is a full fetch outside any fetch session (KIP-227): session id 0 with epoch -1. Epoch 0, which
 * @platformatic/kafka 1.x's Consumer.fetch sent and this loop copied, asks the broker to open a new session for
 * every request, each holding a slot of the broker's incremental fetch session cache (shared by every consumer of
 * the cluster) until evicted. 2.x's own consumer keeps one incremental session per broker instead; this loop
 * fetches few partitions per broker and gains little from one.
 */
export const SESSIONLESS_FETCH = { sessionId: 0, sessionEpoch: -1 } as const;

type AnyConsumer = Consumer<Buffer, Buffer, Buffer, Buffer>;

export class RecordFetcher {
  readonly #consumer: AnyConsumer;
  readonly #options: FetcherOptions;
  readonly #pool: ConnectionPool;
  /** Next offset to fetch, by partition; only assigned partitions have one. */
  readonly #next = new Map<number, bigint>();
  /** Fetched record sets not read to their end yet, in arrival order (per partition, in offset order). */
  #chunks: RecordChunk[] = [];
  /** Bytes of #chunks. */
  #chunkBytes = 0;
  /** Reads the first of #chunks (reset when it moves to the next). */
  readonly #cursor = new RecordCursor();
  #cursorOn: RecordChunk | undefined;
  readonly #inflight = new Set<number>();
  #generation = 0;
  #refreshing: Promise<void> | undefined;
  #paused = false;
  #closed = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  readonly #onJoin = () => this.#refresh();

  constructor(consumer: AnyConsumer, options: FetcherOptions) {
    this.#consumer = consumer;
    this.#options = options;
    this.#pool = new ConnectionPool(`${options.clientId}-fetch`, options.connection);
  }

  /** Subscribes to the topic, joins the group and starts fetching from the committed offsets. */
  async start(): Promise<void> {
    this.#consumer.on("consumer:group:join", this.#onJoin);
    this.#consumer.topics.track(this.#options.topic);
    await this.#consumer.joinGroup({});
    // The join above emitted consumer:group:join, which started the refresh; wait for it so that start()
    // fails when the first offsets cannot be read.
    await this.#refreshing;
  }

  /** Record sets waiting to be read (0: everything fetched has been taken). */
  get buffered(): number {
    return this.#chunks.length;
  }

  /** Bytes of the record sets waiting to be read (of the one being read, what follows the batch being read). */
  get bufferedBytes(): number {
    return this.#chunkBytes - (this.#cursorOn ? this.#cursor.consumed : 0);
  }

  get error(): Error | undefined {
    return this.#error;
  }

  /**
   * Hands up to `max` fetched records to `visit`, one at a time through the same cursor (valid only during the
   * call), and returns how many. Throws once the fetcher failed.
   */
  take(max: number, visit: (record: RecordCursor) => void): number {
    if (this.#error) throw this.#error;
    let taken = 0;
    const cursor = this.#cursor;
    while (taken < max && this.#chunks.length > 0) {
      const chunk = this.#chunks[0] as RecordChunk;
      if (this.#cursorOn !== chunk) {
        cursor.reset(chunk);
        this.#cursorOn = chunk;
      }
      if (!cursor.next()) {
        this.#chunkBytes -= chunk.bytes.length;
        this.#chunks.shift();
        this.#cursorOn = undefined;
        continue;
      }
      visit(cursor);
      taken++;
    }
    this.#schedule();
    return taken;
  }

  /** Resolves when records wait, the fetcher failed or it was closed. */
  async wait(): Promise<void> {
    if (this.buffered > 0 || this.#error || this.#closed) return;
    await new Promise<void>((resolve) => (this.#wake = resolve));
  }

  /** Stops starting fetches (a response in flight is still buffered); what is buffered stays takeable. */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#schedule();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops fetching and closes the fetch connections; buffered records are dropped (they are not committed). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#consumer.off("consumer:group:join", this.#onJoin);
    this.#chunks = [];
    this.#chunkBytes = 0;
    this.#cursorOn = undefined;
    this.#notify();
    await this.#pool.close().catch(() => undefined);
  }

  /**
   * The record at `offset` of `partition`, fetched again on its own: for the dead letter of an event PostgreSQL
   * refused, whose record the consumer did not keep. The record is there: its offset is not committed yet.
   */
  async fetchRecord(partition: number, offset: bigint): Promise<FetchedRecord> {
    const topic = this.#options.topic;
    const metadata = await this.#consumer.metadata({ topics: [topic] });
    const t = metadata.topics.get(topic);
    const leader = t?.partitions[partition]?.leader;
    if (!t || leader === undefined) throw new Error(`partition ${topic}[${partition}] is missing from the cluster metadata`);
    const response = await this.#request(leader, t.id, [partition], () => offset, 0);
    const cursor = new RecordCursor();
    for (const { partitions } of response.responses) {
      for (const { records } of partitions) {
        if (records === null) continue;
        cursor.reset({ topic, partition, bytes: records, from: Number(offset) });
        if (cursor.next() && cursor.offset === Number(offset)) return cursor.toRecord();
      }
    }
    throw new Error(`record ${topic}[${partition}] at offset ${offset} was not returned by the broker`);
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  #fail(err: Error): void {
    if (this.#closed || this.#error) return;
    this.#error = err;
    this.#notify();
  }

  /**
   * After a group join: positions from the committed offsets of the new assignment (the earliest offset where
   * the group has none), the buffer and any response in flight discarded. Records of this member's batches
   * still being stored may be fetched again; PostgreSQL's (source, id) key makes that harmless.
   */
  #refresh(): void {
    const generation = ++this.#generation;
    this.#chunks = [];
    this.#chunkBytes = 0;
    this.#cursorOn = undefined;
    const run = (async () => {
      const topic = this.#options.topic;
      const partitions = this.#assignedPartitions();
      const next = new Map<number, bigint>();
      if (partitions.length > 0) {
        const [committed, earliest] = await Promise.all([
          this.#consumer.listCommittedOffsets({ topics: [{ topic, partitions }] }),
          this.#consumer.listOffsets({ topics: [topic], timestamp: ListOffsetTimestamps.EARLIEST }),
        ]);
        for (const p of partitions) {
          const c = committed.get(topic)?.[p];
          const e = earliest.get(topic)?.[p] ?? 0n;
          next.set(p, c !== undefined && c >= 0n ? c : e);
        }
      }
      if (generation !== this.#generation) return;
      this.#next.clear();
      for (const [p, o] of next) this.#next.set(p, o);
    })();
    this.#refreshing = run.then(
      () => {
        if (generation === this.#generation) this.#refreshing = undefined;
        this.#schedule();
      },
      (err: unknown) => {
        if (generation === this.#generation) this.#refreshing = undefined;
        this.#fail(new Error(`reading the group's committed offsets failed: ${(err as Error).message}`, { cause: err }));
      },
    );
  }

  #assignedPartitions(): number[] {
    const topic = this.#options.topic;
    return (this.#consumer.assignments ?? []).filter((a) => a.topic === topic).flatMap((a) => a.partitions);
  }

  /** Starts a fetch from every leader of assigned partitions that has none in flight, unless held back. */
  #schedule(): void {
    if (this.#closed || this.#paused || this.#error || this.#refreshing || this.#next.size === 0) return;
    if (this.bufferedBytes >= this.#options.maxBufferedBytes) return;
    const generation = this.#generation;
    this.#consumer.metadata({ topics: [this.#options.topic] }).then(
      (metadata) => {
        if (generation !== this.#generation || this.#closed) return;
        const topic = metadata.topics.get(this.#options.topic);
        if (!topic) return this.#fail(new Error(`topic ${this.#options.topic} is missing from the cluster metadata`));
        const byLeader = new Map<number, number[]>();
        for (const p of this.#next.keys()) {
          const leader = topic.partitions[p]?.leader;
          if (leader === undefined || leader < 0 || this.#inflight.has(leader)) continue;
          let list = byLeader.get(leader);
          if (!list) byLeader.set(leader, (list = []));
          list.push(p);
        }
        for (const [leader, partitions] of byLeader) void this.#fetch(leader, topic.id, partitions, generation);
      },
      (err: unknown) => this.#fail(err as Error),
    );
  }

  async #fetch(leader: number, topicId: string, partitions: number[], generation: number): Promise<void> {
    if (this.#inflight.has(leader)) return;
    this.#inflight.add(leader);
    const requested = new Map<number, bigint>();
    for (const p of partitions) requested.set(p, this.#next.get(p) as bigint);
    try {
      const response = await this.#request(leader, topicId, partitions, (p) => requested.get(p) as bigint, this.#options.maxWaitTime);
      if (generation !== this.#generation || this.#closed) return;
      this.#accept(response.responses, requested);
    } catch (err) {
      // A response of an earlier generation, or after close, does not matter any more.
      if (generation === this.#generation) this.#fail(err as Error);
    } finally {
      this.#inflight.delete(leader);
      this.#schedule();
    }
  }

  /** One raw Fetch of `partitions` from their leader, on the fetch connections, with the client's retry rule. */
  #request(leader: number, topicId: string, partitions: number[], fetchOffset: (partition: number) => bigint, maxWaitTime: number) {
    const topics = [
      {
        topicId,
        partitions: partitions.map((partition) => ({
          partition,
          fetchOffset: fetchOffset(partition),
          partitionMaxBytes: this.#options.maxBytesPerPartition,
          currentLeaderEpoch: -1,
          lastFetchedEpoch: -1,
        })),
      },
    ];
    return this.#withRetries(async () => {
      const metadata = await this.#consumer.metadata({ topics: [this.#options.topic] });
      const broker = metadata.brokers.get(leader);
      if (!broker) throw new Error(`broker ${leader} is missing from the cluster metadata`);
      const connection = await this.#pool.get(broker);
      const { sessionId, sessionEpoch } = SESSIONLESS_FETCH;
      return rawFetchV17.async(connection, maxWaitTime, 1, this.#options.maxBytes, FetchIsolationLevels.READ_COMMITTED, sessionId, sessionEpoch, topics, [], "");
    });
  }

  /**
   * The client's retry rule for its own requests: errors it marks retriable are retried (FETCH_RETRIES times,
   * FETCH_RETRY_DELAY_MS apart), with fresh metadata when the error says the metadata is stale (a leader moved).
   */
  async #withRetries<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const e = err as { findBy?: (k: string, v: unknown) => unknown };
        // The client marks a timed-out request as not retriable (a produce may have landed); a Fetch changes nothing
        // on the broker, so it is tried again. A process paused past the request timeout (a stopped VM, a long GC)
        // finds its Fetch timed out when it resumes, and goes on instead of exiting.
        const retriable = err instanceof TimeoutError || !e.findBy?.("canRetry", false);
        if (!retriable || attempt > FETCH_RETRIES || this.#closed) throw err;
        if (e.findBy?.("hasStaleMetadata", true)) await this.#consumer.metadata({ topics: [this.#options.topic], forceUpdate: true }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, FETCH_RETRY_DELAY_MS * attempt));
      }
    }
  }

  #accept(responses: Awaited<ReturnType<typeof rawFetchV17.async>>["responses"], requested: Map<number, bigint>): void {
    const topic = this.#options.topic;
    const before = this.#chunks.length;
    const probe = new RecordCursor();
    for (const { partitions } of responses) {
      for (const { partitionIndex: partition, records } of partitions) {
        const from = requested.get(partition);
        // Not requested (cannot happen) or no longer assigned: ignore.
        if (from === undefined || records === null || this.#next.get(partition) !== from) continue;
        const chunk: RecordChunk = { topic, partition, bytes: records, from: Number(from) };
        // The position moves past the last complete batch, whatever it held (control batches included).
        probe.reset(chunk);
        const next = probe.scanBatches();
        if (next < 0) continue; // nothing complete in it (a batch larger than the limit comes whole next time)
        this.#next.set(partition, BigInt(next));
        this.#chunks.push(chunk);
        this.#chunkBytes += records.length;
      }
    }
    if (this.#chunks.length > before) this.#notify();
  }
}

/** FETCH_RETRIES and FETCH_RETRY_DELAY_MS: as the client's own retries (kafkaBaseOptions). */
const FETCH_RETRIES = 5;
const FETCH_RETRY_DELAY_MS = 250;

