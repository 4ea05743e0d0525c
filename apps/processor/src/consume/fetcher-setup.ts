import type { Consumer, ConnectionOptions } from "@platformatic/kafka";
import type { Config } from "../config.js";
import { RecordFetcher } from "../wire/index.js";
import { kafkaBaseOptions } from "../kafka.js";
import { CONSUMER_DEFAULTS } from "./defaults.js";

/** The fetch loop over this member's partitions, with the consumer's connection settings (fetcher.ts). */
export function createFetcher(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>, config: Config): RecordFetcher {
  const base = kafkaBaseOptions(config, "consumer");
  return new RecordFetcher(consumer, {
    topic: config.kafka.eventsTopic,
    clientId: base.clientId,
    ...fetchSizes(config),
    maxWaitTime: CONSUMER_DEFAULTS.fetchMaxWaitMs,
    // About one response waits to be read: the next fetch is in flight while the consumer reads the current one
    // (reading overlaps the broker's round trip), and no more than that is held, since what waits here is raw
    // response bytes until the consumer turns its records into rows (batch-rows.ts).
    maxBufferedBytes: fetchSizes(config).maxBytes,
    connection: fetchConnectionOptions(config),
  });
}

/** The fetch connections' options: the consumer's TLS (with SNI), SASL and request timeout, so MSK IAM applies to them too. */
export function fetchConnectionOptions(config: Config): ConnectionOptions {
  const base = kafkaBaseOptions(config, "consumer");
  return { tls: base.tls, tlsServerName: base.tlsServerName, sasl: base.sasl, requestTimeout: base.requestTimeout };
}

/**
 * Fetch response limits: KAFKA_FETCH_MAX_BYTES in all (1 MiB by default, measured in docs/processor.md#benchmark)
 * and a quarter of that per partition, so that a backlogged partition does not fill every response alone. One
 * response is what waits between the fetcher and the consumer (fetcher.ts), so this also bounds that memory.
 */
export function fetchSizes(config: Config): { maxBytes: number; maxBytesPerPartition: number } {
  const maxBytes = config.kafka.fetchMaxBytes;
  return { maxBytes, maxBytesPerPartition: Math.max(CONSUMER_DEFAULTS.minPartitionFetchBytes, Math.floor(maxBytes / 4)) };
}
