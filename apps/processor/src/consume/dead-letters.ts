import type { Producer } from "@platformatic/kafka";
import type { Logger } from "pino";
import type { Config } from "../config.js";
import type { FetchedRecord } from "../wire/index.js";
import { createDlqProducer } from "../kafka.js";
import type { DEAD_LETTER_REASONS, Metrics } from "../metrics.js";

// One list (metrics.ts) names every reason: a new one must be added there, so its series exists from start-up.
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** A record that will not be stored, with why. */
export interface DeadLetter {
  message: FetchedRecord;
  reason: DeadLetterReason;
  error: string;
}

const EMPTY = Buffer.alloc(0);

/**
 * The dead-letter record of `dl`: the original key, value and headers, byte for byte, and the dlq_* headers
 * that say why and where from (docs/processor.md, "Dead letters").
 */
export function deadLetterRecord({ message, reason, error }: DeadLetter, kafka: Pick<Config["kafka"], "dlqTopic" | "groupId">) {
  const headers = new Map<Buffer, Buffer>();
  for (const [k, v] of message.headers) if (k !== null) headers.set(k, v ?? EMPTY);
  const add = (k: string, v: string) => headers.set(Buffer.from(k), Buffer.from(v));
  add("dlq_reason", reason);
  add("dlq_error", error);
  add("dlq_source_topic", message.topic);
  add("dlq_partition", String(message.partition));
  add("dlq_offset", message.offset.toString());
  add("dlq_timestamp", new Date(Number(message.timestamp)).toISOString());
  add("dlq_consumer_group", kafka.groupId);
  return { topic: kafka.dlqTopic, key: message.key ?? undefined, value: message.value ?? undefined, headers };
}

/** The dead-letter producer (acks=all): a batch's dead letters are acknowledged before its offsets are committed. */
export class DeadLetters {
  readonly #config: Config;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #producer: Producer<Buffer, Buffer, Buffer, Buffer>;

  constructor(config: Config, metrics: Metrics, log: Logger) {
    this.#config = config;
    this.#metrics = metrics;
    this.#log = log;
    this.#producer = createDlqProducer(config);
  }

  /** Produces the dead letters in one request, then counts and logs each. */
  async send(deadLetters: DeadLetter[]): Promise<void> {
    await this.#producer.send({ messages: deadLetters.map((dl) => deadLetterRecord(dl, this.#config.kafka)) });
    for (const { message, reason, error } of deadLetters) {
      this.#metrics.deadLetters.inc({ reason });
      this.#metrics.events.inc({ outcome: "dead_lettered" });
      this.#log.warn({ partition: message.partition, offset: message.offset.toString(), reason, error }, "record dead-lettered");
    }
  }

  async close(): Promise<void> {
    await this.#producer.close();
  }
}
