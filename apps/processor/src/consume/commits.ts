import type { Consumer } from "@platformatic/kafka";
import type { Logger } from "pino";
import type { Metrics } from "../metrics.js";

/** The offset to commit per partition: the one after the batch's last record. */
export type NextOffset = { topic: string; partition: number; offset: bigint };

/**
 * Commits, per partition, the offset after the last record of the batch. Only partitions still assigned
 * are committed: one revoked mid-batch now belongs to another member, which resumes from the previous
 * commit; the records it sees again are deduplicated by PostgreSQL. A failed commit is not retried: the
 * data is already stored, so the only cost is a redelivery.
 */
export async function commitOffsets(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>, next: NextOffset[], metrics: Metrics, log: Logger): Promise<void> {
  const assigned = new Set((consumer.assignments ?? []).flatMap((a) => a.partitions.map((p) => `${a.topic}:${p}`)));
  const offsets = next.filter((o) => assigned.has(`${o.topic}:${o.partition}`)).map((o) => ({ ...o, leaderEpoch: -1 }));
  if (offsets.length === 0) return;
  try {
    await consumer.commit({ offsets });
  } catch (err) {
    metrics.offsetCommitErrors.inc();
    log.warn({ err }, "offset commit failed; the batch will be redelivered and deduplicated");
  }
}
