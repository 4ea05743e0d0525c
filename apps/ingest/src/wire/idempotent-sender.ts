/**
 * An idempotent producer's sending half, below the client library: records go to their partitions' leaders as
 * record batches encoded in place (record-batch.ts), on the library's connections, with the producer id the
 * library's `initIdempotentProducer` obtains and the cluster metadata its `metadata` keeps. Everything else stays
 * the library's: connections, TLS, SASL/IAM, metadata, InitProducerId, response parsing.
 *
 * What it keeps of Kafka's idempotent producer (Java's Sender and TransactionManager, in small):
 * - Sequence numbers per partition, claimed when a batch is encoded, and the batch written to its leader's connection in
 *   the same synchronous step, so one partition's batches reach the broker in sequence order.
 * - A batch whose leader moved (a stale-metadata error) or whose connection failed is resent as the same bytes (same
 *   producer id and sequence, so the broker writes it once) to the leader fresh metadata names, at most `retries`
 *   times `retryDelayMs` apart, and no resend starts after the send's deadline (`timeoutMs`).
 * - From the moment a batch waits to be resent, its producer id takes no new batches: later sends start over with a
 *   new producer id. A batch the broker did write is recognised as a duplicate only among the last 5 it wrote for
 *   the producer id and partition, so later batches under the same id could push it out of that window (and get
 *   it refused out of order), or, had it not been written, be refused themselves.
 * - DUPLICATE_SEQUENCE_NUMBER means the broker has the batch already: success.
 * - Any other failure fails the send, and the producer starts over: a new producer id and sequences from 0 (the
 *   broker's state for the old id no longer matches ours). Sends still in flight with the old id finish or fail on
 *   their own and do not reset the new one.
 */
import { murmur2, ProtocolError, type ClusterMetadata, type Connection, type Producer } from "@platformatic/kafka";
import type { KafkaRecord } from "../kafka-record.js";
import { chooseProduceVersion, produceRequest, sendProduce, type PartitionBatch, type ProduceResponse } from "./produce-request.js";
import { encodeRecordBatch } from "./record-batch.js";

export interface IdempotentSenderOptions {
  /** The library's producer (idempotent): its connections, metadata, producer id and API versions are used. */
  client: Producer<Buffer, Buffer, string, string>;
  topic: string;
  /** Produce acks: -1 (all in-sync replicas). */
  acks: number;
  /** The broker's wait for acknowledgements, and the longest a send may take with its retries. */
  timeoutMs: number;
  /** Resends of one batch after a leader move or connection failure. */
  retries: number;
  retryDelayMs: number;
  /** The Produce version to use; default: the newest both the broker and produce-request.ts speak. */
  version?: number;
}

/** A producer id and the sequences claimed under it. */
interface Generation {
  producerId: bigint;
  producerEpoch: number;
  sequences: Map<number, number>;
}

/** A batch for one partition, encoded once and resent as it is. */
interface PendingBatch extends PartitionBatch {
  attempts: number;
  error: Error | undefined;
}

// Java's partitioner: murmur2 of the key, positive, modulo the partition count.
const POSITIVE = 0x7fffffff;
const DUPLICATE_SEQUENCE_NUMBER = 46;

export class IdempotentSender {
  readonly #o: IdempotentSenderOptions;
  /** The producer id new batches are claimed under, once InitProducerId answered; pending meanwhile. */
  #generation: Promise<Generation> | undefined;
  /** What #generation resolved to, while new batches may still be claimed under it. */
  #current: Generation | undefined;
  #version: Promise<number> | undefined;
  #refreshMetadata = false;

  constructor(options: IdempotentSenderOptions) {
    this.#o = options;
  }

  /** Resolves once the leaders acknowledged every record; rejects with the reason otherwise. */
  async send(records: readonly KafkaRecord[]): Promise<void> {
    const deadline = performance.now() + this.#o.timeoutMs;
    let generation: Generation;
    let version: number;
    let metadata: ClusterMetadata;
    let byPartition: Map<number, KafkaRecord[]>;
    let connections: Map<number, Connection>;
    for (;;) {
      [generation, version] = await Promise.all([this.#currentGeneration(), this.#produceVersion()]);
      metadata = await this.#metadata();
      byPartition = this.#partitioned(metadata, records);
      connections = await this.#connections(metadata, [...byPartition.keys()]);
      // Retired while this send awaited (another send's batch waits to be resent): take the next producer id.
      if (this.#current === generation) break;
      if (performance.now() >= deadline) throw new Error("no producer id to send under before the deadline");
    }
    // From here to the writes nothing awaits: sequences are claimed in the order the batches reach the sockets.
    const timestamp = Date.now();
    const pending: PendingBatch[] = [];
    for (const [partition, list] of byPartition) {
      const baseSequence = generation.sequences.get(partition) ?? 0;
      generation.sequences.set(partition, nextSequence(baseSequence, list.length));
      const batch = encodeRecordBatch(list, { producerId: generation.producerId, producerEpoch: generation.producerEpoch, baseSequence, timestamp });
      pending.push({ partition, batch, attempts: 0, error: undefined });
    }
    try {
      let failed = await this.#dispatch(version, pending, connections);
      while (failed.length > 0) {
        // Whatever happens next, no new batch may overtake these under this producer id.
        this.#retire(generation);
        const fatal = failed.find((b) => !isRetriable(b.error) || b.attempts > this.#o.retries);
        if (fatal || performance.now() + this.#o.retryDelayMs >= deadline) throw (fatal ?? failed[0])?.error ?? new Error("produce failed");
        await new Promise((resolve) => setTimeout(resolve, this.#o.retryDelayMs));
        this.#refreshMetadata = true;
        metadata = await this.#metadata();
        failed = await this.#dispatch(version, failed, await this.#connections(metadata, failed.map((b) => b.partition)));
      }
    } catch (error) {
      this.#retire(generation);
      throw error;
    }
  }

  /** The records by partition: Java's partitioner over the topic's partition count. */
  #partitioned(metadata: ClusterMetadata, records: readonly KafkaRecord[]): Map<number, KafkaRecord[]> {
    const topic = metadata.topics.get(this.#o.topic);
    if (!topic) throw new Error(`no metadata for topic ${this.#o.topic}`);
    const byPartition = new Map<number, KafkaRecord[]>();
    for (const r of records) {
      const partition = (murmur2(r.key) & POSITIVE) % topic.partitionsCount;
      const list = byPartition.get(partition);
      if (list) list.push(r);
      else byPartition.set(partition, [r]);
    }
    return byPartition;
  }

  /** Writes the batches to their leaders, one request per leader; resolves with the batches that failed, each with its error. */
  #dispatch(version: number, batches: PendingBatch[], connections: Map<number, Connection>): Promise<PendingBatch[]> {
    const byConnection = new Map<Connection, PendingBatch[]>();
    for (const b of batches) {
      const connection = connections.get(b.partition) as Connection;
      const list = byConnection.get(connection);
      if (list) list.push(b);
      else byConnection.set(connection, [b]);
    }
    const { acks, timeoutMs, topic } = this.#o;
    return Promise.all(
      [...byConnection].map(
        ([connection, list]) =>
          new Promise<PendingBatch[]>((resolve) => {
            for (const b of list) b.attempts++;
            sendProduce(connection, version, produceRequest(version, acks, timeoutMs, topic, list), (error, response) => {
              resolve(failedBatches(list, error, response));
            });
          }),
      ),
    ).then((lists) => lists.flat());
  }

  #currentGeneration(): Promise<Generation> {
    this.#generation ??= this.#o.client.initIdempotentProducer({}).then(
      ({ producerId, producerEpoch }) => (this.#current = { producerId, producerEpoch, sequences: new Map() }),
      (error: unknown) => {
        this.#generation = undefined;
        throw error;
      },
    );
    return this.#generation;
  }

  /**
   * After a failure under `generation`: the next send takes a new producer id, unless that happened already (a
   * pending InitProducerId is never `generation`, which had resolved, so it is left alone).
   */
  #retire(generation: Generation): void {
    this.#refreshMetadata = true;
    if (this.#current !== generation) return;
    this.#current = undefined;
    this.#generation = undefined;
  }

  #produceVersion(): Promise<number> {
    if (this.#o.version !== undefined) this.#version ??= Promise.resolve(this.#o.version);
    // The catch after the then: a broker speaking none of our versions is asked again on the next send.
    this.#version ??= this.#o.client
      .listApis()
      .then((apis) => {
        const produce = apis.find((a) => a.apiKey === 0);
        const version = produce && chooseProduceVersion(produce.minVersion, produce.maxVersion);
        if (version === undefined) throw new Error(`the broker speaks Produce v${produce?.minVersion}-v${produce?.maxVersion}, none of v3-v11`);
        return version;
      })
      .catch((error: unknown) => {
        this.#version = undefined;
        throw error;
      });
    return this.#version;
  }

  #metadata(): Promise<ClusterMetadata> {
    const forceUpdate = this.#refreshMetadata;
    this.#refreshMetadata = false;
    return this.#o.client.metadata({ topics: [this.#o.topic], forceUpdate });
  }

  /** The leader's connection for each partition: the established one without waiting, else the pool's. */
  async #connections(metadata: ClusterMetadata, partitions: number[]): Promise<Map<number, Connection>> {
    const topic = metadata.topics.get(this.#o.topic);
    const result = new Map<number, Connection>();
    const waits: Promise<void>[] = [];
    const pool = this.#o.client.connections;
    // Every leader first, so that no connection is asked for when the send fails for want of a leader.
    const leaders = partitions.map((partition) => {
      const broker = metadata.brokers.get(topic?.partitions[partition]?.leader ?? -1);
      if (!broker) {
        this.#refreshMetadata = true;
        throw new Error(`partition ${partition} of ${this.#o.topic} has no leader`);
      }
      return [partition, broker] as const;
    });
    for (const [partition, broker] of leaders) {
      const established = pool.getEstablishedConnection(broker);
      if (established?.isConnected()) result.set(partition, established);
      else waits.push(pool.get(broker).then((c) => void result.set(partition, c)));
    }
    if (waits.length > 0) await Promise.all(waits);
    return result;
  }
}

/** The batches of a request that did not land: all of them if the request failed as a whole, else those whose partition answered an error. */
function failedBatches(batches: PendingBatch[], error: Error | null, response: ProduceResponse | undefined): PendingBatch[] {
  if (!error) return [];
  const answered = response ?? (error as Error & { response?: ProduceResponse }).response;
  if (!answered) {
    for (const b of batches) b.error = error;
    return batches;
  }
  const codes = new Map<number, number>();
  for (const t of answered.responses) for (const p of t.partitionResponses) codes.set(p.index, p.errorCode);
  const failed: PendingBatch[] = [];
  for (const b of batches) {
    const code = codes.get(b.partition);
    if (code === 0 || code === DUPLICATE_SEQUENCE_NUMBER) continue;
    b.error = code === undefined ? error : new ProtocolError(code, null, { partition: b.partition });
    failed.push(b);
  }
  return failed;
}

/** Whether resending the same batch may succeed: its leader moved, or the connection failed before an answer. */
function isRetriable(error: Error | undefined): boolean {
  const e = error as (Error & { hasStaleMetadata?: boolean; code?: string; canRetry?: boolean }) | undefined;
  if (!e) return false;
  if (e.hasStaleMetadata === true) return true;
  return e.code === "PLT_KFK_NETWORK" && e.canRetry === true;
}

/** The sequence after `count` records from `sequence`; it wraps to 0 after 2^31 - 1, as Kafka's does. */
export function nextSequence(sequence: number, count: number): number {
  return sequence > POSITIVE - count ? count - (POSITIVE - sequence) - 1 : sequence + count;
}
