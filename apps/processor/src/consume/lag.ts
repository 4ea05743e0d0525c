import type { Consumer } from "@platformatic/kafka";
import type { LagSource } from "../metrics.js";

/** Records not yet committed per assigned partition (the metrics' lag source; KEDA scales on it). */
export async function consumerLag(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>): ReturnType<LagSource> {
  const assignments = consumer.assignments;
  if (!assignments || assignments.length === 0) return [];
  const [latest, committed] = await Promise.all([
    consumer.listOffsets({ topics: assignments.map((a) => a.topic) }),
    consumer.listCommittedOffsets({ topics: assignments }),
  ]);
  const out: { topic: string; partition: number; lag: number }[] = [];
  for (const { topic, partitions } of assignments) {
    for (const partition of partitions) {
      const end = latest.get(topic)?.[partition];
      const done = committed.get(topic)?.[partition];
      if (end === undefined) continue;
      // No commit yet: the group starts from the earliest offset, so the whole partition is pending
      // (ignoring retention, which makes this an upper bound).
      out.push({ topic, partition, lag: Number(end - (done !== undefined && done >= 0n ? done : 0n)) });
    }
  }
  return out;
}
