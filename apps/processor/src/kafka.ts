import { Admin, ProduceAcks, Producer, type BaseOptions } from "@platformatic/kafka";
import { kafkaSecurity } from "@eventstack/runtime";
import type { Config } from "./config.js";

/**
 * Connection options shared by the consumer, the dead-letter producer and `migrate`'s admin client.
 * Locally: plaintext. On MSK: TLS and, with KAFKA_AUTH=msk-iam, SASL OAUTHBEARER with an MSK IAM token
 * (@eventstack/runtime's kafkaSecurity, the same as ingest's producer).
 */
export function kafkaBaseOptions(config: Config, clientSuffix: string): BaseOptions {
  const k = config.kafka;
  return {
    clientId: `${k.clientId}-${clientSuffix}`,
    bootstrapBrokers: k.brokers,
    // Topics are created by `migrate` only (MSK, like the local broker, has auto-creation off).
    autocreateTopics: false,
    retries: 5,
    requestTimeout: k.requestTimeoutMs,
    ...kafkaSecurity(k, config.awsRegion),
  };
}

/** The dead-letter producer: acks from all in-sync replicas, so an acknowledged dead letter survives a broker loss. */
export function createDlqProducer(config: Config): Producer<Buffer, Buffer, Buffer, Buffer> {
  return new Producer({ ...kafkaBaseOptions(config, "dlq"), acks: ProduceAcks.ALL });
}

export interface TopicPlan {
  name: string;
  partitions: number;
  replication: number;
}

/**
 * Creates the events and dead-letter topics if they do not exist (idempotent: existing topics are left as
 * they are, including their partition count, which only ever grows by an explicit operation).
 * Replication defaults to min(3, brokers) so the same command works on a 3-AZ MSK cluster and a laptop.
 */
export async function ensureTopics(config: Config): Promise<{ created: TopicPlan[]; existing: string[] }> {
  const admin = new Admin(kafkaBaseOptions(config, "migrate"));
  try {
    const metadata = await admin.metadata({ topics: [] });
    const replication = config.kafka.replication ?? Math.min(3, metadata.brokers.size);
    const existing = new Set(await admin.listTopics());
    const wanted = [config.kafka.eventsTopic, config.kafka.dlqTopic];
    const created: TopicPlan[] = [];
    for (const name of wanted) {
      if (existing.has(name)) continue;
      try {
        await admin.createTopics({
          topics: [name],
          partitions: config.kafka.partitions,
          replicas: replication,
          // With three replicas, an acknowledged write survives the loss of one broker.
          configs: [{ name: "min.insync.replicas", value: String(Math.min(2, replication)) }],
        });
        created.push({ name, partitions: config.kafka.partitions, replication });
      } catch (err) {
        // Another `migrate` created it between listTopics and createTopics: fine.
        if (!(err as { findBy?: (k: string, v: unknown) => unknown }).findBy?.("apiId", "TOPIC_ALREADY_EXISTS")) throw err;
      }
    }
    return { created, existing: wanted.filter((t) => existing.has(t)) };
  } finally {
    await admin.close();
  }
}
