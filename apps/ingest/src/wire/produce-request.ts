/**
 * One Produce request (API key 0) carrying record batches that are already encoded, sent on the client library's
 * connection, its response read by the library's own parser for that version.
 *
 * The request's fields are the same in every version from 3 (the oldest Kafka 4 accepts) to 11:
 *   transactional_id nullable string | acks int16 | timeout_ms int32 |
 *   [topic_data: name string | [partition_data: index int32 | records bytes]]
 * From version 9 on they are "flexible": compact strings, arrays and bytes (unsigned varint length + 1) and a
 * tagged-field section after each structure, and the request and response headers carry tagged fields too.
 * Version 9 is skipped: @platformatic/kafka 2.12.1 has no export for its parser (apis/producer/index.js), and a
 * broker that speaks 9 speaks 8.
 */
import {
  produceV10,
  produceV11,
  produceV3,
  produceV4,
  produceV5,
  produceV6,
  produceV7,
  produceV8,
  Writer,
  type Connection,
} from "@platformatic/kafka";

export type ProduceResponse = produceV11.ProduceResponse;

export const PRODUCE_API_KEY = 0;

type Parser = typeof produceV11.parseResponse;

/** The versions this module writes, newest first, each with the library's parser for its response. */
const PARSERS = new Map<number, Parser>([
  [11, produceV11.parseResponse],
  [10, produceV10.parseResponse],
  [8, produceV8.parseResponse as unknown as Parser],
  [7, produceV7.parseResponse as unknown as Parser],
  [6, produceV6.parseResponse as unknown as Parser],
  [5, produceV5.parseResponse as unknown as Parser],
  [4, produceV4.parseResponse as unknown as Parser],
  [3, produceV3.parseResponse as unknown as Parser],
]);

const FIRST_FLEXIBLE_VERSION = 9;

/** The newest version both this module and a broker speak (the broker's Produce range from ApiVersions), or undefined. */
export function chooseProduceVersion(brokerMin: number, brokerMax: number): number | undefined {
  for (const version of PARSERS.keys()) if (version >= brokerMin && version <= brokerMax) return version;
  return undefined;
}

/** One partition's record batch in a request. */
export interface PartitionBatch {
  partition: number;
  batch: Buffer;
}

/** The request's body: its header fields in one small buffer, then each batch as it is (no copy until the socket write). */
export function produceRequest(version: number, acks: number, timeoutMs: number, topic: string, batches: readonly PartitionBatch[]): Writer {
  const flexible = version >= FIRST_FLEXIBLE_VERSION;
  const topicName = Buffer.from(topic, "utf8");
  const writer = Writer.create();
  const head = Buffer.allocUnsafe(32 + topicName.length);
  let pos = 0;
  if (flexible) {
    head[pos++] = 0; // transactional_id: null
  } else {
    pos = head.writeInt16BE(-1, pos);
  }
  pos = head.writeInt16BE(acks, pos);
  pos = head.writeInt32BE(timeoutMs, pos);
  pos = flexible ? writeUnsignedVarInt(head, pos, 2) : head.writeInt32BE(1, pos); // one topic
  if (flexible) {
    pos = writeUnsignedVarInt(head, pos, topicName.length + 1);
  } else {
    pos = head.writeInt16BE(topicName.length, pos);
  }
  pos += topicName.copy(head, pos);
  pos = flexible ? writeUnsignedVarInt(head, pos, batches.length + 1) : head.writeInt32BE(batches.length, pos);
  writer.append(head.subarray(0, pos));
  for (const { partition, batch } of batches) {
    const prefix = Buffer.allocUnsafe(9);
    let p = prefix.writeInt32BE(partition, 0);
    p = flexible ? writeUnsignedVarInt(prefix, p, batch.length + 1) : prefix.writeInt32BE(batch.length, p);
    writer.append(prefix.subarray(0, p));
    writer.append(batch);
    if (flexible) writer.append(EMPTY_TAGS); // the partition's tagged fields
  }
  if (flexible) writer.append(TWO_EMPTY_TAGS); // the topic's, then the request's
  return writer;
}

const EMPTY_TAGS = Buffer.from([0]);
const TWO_EMPTY_TAGS = Buffer.from([0, 0]);

/**
 * Sends the request on `connection` and calls back with the parsed response, or with the library's error: a
 * ResponseError (its `response` holds every partition's answer) when any partition failed, a NetworkError or
 * TimeoutError when the connection did.
 */
export function sendProduce(
  connection: Connection,
  version: number,
  request: Writer,
  callback: (error: Error | null, response: ProduceResponse | undefined) => void,
): void {
  const parser = PARSERS.get(version);
  if (!parser) throw new Error(`Produce v${version} is not one this module writes`);
  const flexible = version >= FIRST_FLEXIBLE_VERSION;
  connection.send(PRODUCE_API_KEY, version, () => request, parser, flexible, flexible, callback as never);
}

function writeUnsignedVarInt(buf: Buffer, pos: number, n: number): number {
  let v = n >>> 0;
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}
