/**
 * The consumer's fetch loop: the records of the partitions the group assigns to this member, fetched from the
 * group's committed offsets, as plain records in arrays, with no per-record object beyond the one parsed
 * from the response.
 *
 * Why not the client's MessagesStream: group membership, offset commits, metadata and the Fetch request itself
 * stay with @platformatic/kafka (Consumer.joinGroup, Consumer.fetch, Consumer.commit); only the loop that turns
 * fetch responses into records is ours. The stream builds, for every record, a spread copy of the parsed
 * record, a Map of its headers, a bound commit function, a diagnostics context and a message object, then
 * pushes it through a Readable one at a time. Measured on the benchmark's records (docs/processor.md#benchmark)
 * that costs about 9 µs of the processor's only thread per record against 3.5 µs for the same responses read
 * here, which is the largest single cost the processor had.
 *
 * What it keeps from the stream's behaviour:
 *   - it starts from the group's committed offset of each assigned partition, or the earliest offset when the
 *     group has none, and starts over from the committed offsets after every group join (a rebalance), dropping
 *     what it had buffered and any response still in flight;
 *   - a fetch is in flight per partition leader at most, and none while `maxBuffered` records wait to be taken
 *     (backpressure);
 *   - records before the requested offset (a response may start at the batch holding it) and control batches
 *     (transaction markers) are skipped, and the position moves past both;
 *   - fetches use a connection pool of their own, so a long-poll fetch never queues the group's heartbeats and
 *     offset commits behind it on one connection;
 *   - a fetch error the client's own retries did not clear fails the fetcher, and the consumer with it.
 */
import { ConnectionPool, ListOffsetTimestamps, type Consumer, type ConnectionOptions } from "@platformatic/kafka";

/** One fetched record: what the consumer, the dead-letter path and the spans read of it. */
export interface FetchedRecord {
  topic: string;
  partition: number;
  offset: bigint;
  /** Record timestamp, epoch ms (CreateTime as the producer set it). */
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: [Buffer | null, Buffer | null][];
}

export interface FetcherOptions {
  topic: string;
  /** Limit of a whole fetch response, bytes. */
  maxBytes: number;
  /** Limit of one partition's part of a response, bytes. */
  maxBytesPerPartition: number;
  /** How long the broker holds a fetch that has nothing to return, ms. */
  maxWaitTime: number;
  /** No new fetch starts while this many records wait to be taken. */
  maxBuffered: number;
  /** Options of the fetch connections: the consumer's TLS and SASL settings. */
  connection: ConnectionOptions;
  clientId: string;
}

/** Bit 5 of a record batch's attributes: a control batch (commit or abort markers). */
const CONTROL_BATCH = 0x20;

type AnyConsumer = Consumer<Buffer, Buffer, Buffer, Buffer>;

export class RecordFetcher {
  readonly #consumer: AnyConsumer;
  readonly #options: FetcherOptions;
  readonly #pool: ConnectionPool;
  /** Next offset to fetch, by partition; only assigned partitions have one. */
  readonly #next = new Map<number, bigint>();
  /** Fetched records not taken yet, in arrival order (per partition, in offset order). */
  #buffer: FetchedRecord[] = [];
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

  /** Records waiting to be taken. */
  get buffered(): number {
    return this.#buffer.length;
  }

  get error(): Error | undefined {
    return this.#error;
  }

  /** Up to `max` buffered records, at once (an empty array when none wait). Throws once the fetcher failed. */
  take(max: number): FetchedRecord[] {
    if (this.#error) throw this.#error;
    let out: FetchedRecord[];
    if (max >= this.#buffer.length) {
      out = this.#buffer;
      this.#buffer = [];
    } else {
      // What stays is at most about one response more than a batch: cheap to move, and nothing taken stays
      // referenced (under a backlog the buffer never runs empty).
      out = this.#buffer.splice(0, max);
    }
    this.#schedule();
    return out;
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
    this.#buffer = [];
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
    const response = await this.#consumer.fetch({
      node: leader,
      connectionPool: this.#pool,
      maxBytes: this.#options.maxBytesPerPartition,
      maxWaitTime: 0,
      topics: [{ topicId: t.id, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: this.#options.maxBytesPerPartition, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
    });
    for (const { partitions } of response.responses) {
      for (const { records: batches } of partitions) {
        for (const batch of batches ?? []) {
          for (const r of batch.records) {
            if (batch.firstOffset + BigInt(r.offsetDelta) !== offset) continue;
            return { topic, partition, offset, timestamp: batch.firstTimestamp + r.timestampDelta, key: r.key, value: r.value, headers: r.headers };
          }
        }
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
    this.#buffer = [];
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
    if (this.buffered >= this.#options.maxBuffered) return;
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
      const response = await this.#consumer.fetch({
        node: leader,
        connectionPool: this.#pool,
        maxBytes: this.#options.maxBytes,
        maxWaitTime: this.#options.maxWaitTime,
        topics: [
          {
            topicId,
            partitions: partitions.map((partition) => ({
              partition,
              fetchOffset: requested.get(partition) as bigint,
              partitionMaxBytes: this.#options.maxBytesPerPartition,
              currentLeaderEpoch: -1,
              lastFetchedEpoch: -1,
            })),
          },
        ],
      });
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

  #accept(responses: Awaited<ReturnType<AnyConsumer["fetch"]>>["responses"], requested: Map<number, bigint>): void {
    const topic = this.#options.topic;
    const before = this.buffered;
    for (const { partitions } of responses) {
      for (const { partitionIndex: partition, records: batches } of partitions) {
        const from = requested.get(partition);
        // Not requested (cannot happen) or no longer assigned: ignore.
        if (from === undefined || !batches || batches.length === 0 || this.#next.get(partition) !== from) continue;
        for (const batch of batches) {
          if ((batch.attributes & CONTROL_BATCH) !== 0) continue;
          const { firstOffset, firstTimestamp } = batch;
          for (const r of batch.records) {
            const offset = firstOffset + BigInt(r.offsetDelta);
            if (offset < from) continue;
            this.#buffer.push({ topic, partition, offset, timestamp: firstTimestamp + r.timestampDelta, key: r.key, value: r.value, headers: r.headers });
          }
        }
        const last = batches[batches.length - 1] as (typeof batches)[number];
        this.#next.set(partition, last.firstOffset + BigInt(last.lastOffsetDelta) + 1n);
      }
    }
    if (this.buffered > before) this.#notify();
  }
}
