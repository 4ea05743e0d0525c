import type { BatchPipeline } from "../pipeline.js";
import { ErrorCodes, ProcessorError } from "../errors.js";
import type { RecordFetcher } from "../wire/index.js";
import { openBatch, takeInto, type InFlightBatch, type OpenBatch } from "./batch-filling.js";

export interface LoopParts {
  fetcher: RecordFetcher;
  pipeline: BatchPipeline<InFlightBatch>;
  /** Aborted when the processor stops. */
  signal: AbortSignal;
  /** Records per batch at most (BATCH_MAX_RECORDS). */
  maxRecords: number;
  /** Closes a filled batch for the pipeline (closeBatch in batch-filling.ts). */
  close(open: OpenBatch): InFlightBatch;
}

/**
 * Fills batches and hands them to the pipeline (pipeline.ts): while batch N is in its PostgreSQL transaction,
 * batch N+1 is collected, decoded and encoded here, and its transaction starts once N's COPY is done
 * (BATCH_TRANSACTIONS at most at once; with 1, once N has committed). The order of side effects per batch does
 * not change (stages.ts); transactions start in batch order, and batch N+1's offsets are committed only after its
 * own transaction and N's offset commit have finished: committed offsets only ever cover stored records, in
 * order. N's offset commit and cache write may overlap later transactions.
 */
export async function runLoop({ fetcher, pipeline, signal, maxRecords: max, close }: LoopParts): Promise<void> {
  let open = openBatch(max);
  // The hand-over of the previous batch while it waits for the pipeline; meanwhile this one goes on filling.
  let handing: Promise<boolean> | undefined;
  try {
    while (!signal.aborted && !fetcher.closed) {
      // Taken and decoded in one call, so no array of records stays referenced from here across an await.
      if (takeInto(fetcher, open, max) === 0 && open.records === 0) {
        await fetcher.wait();
        continue;
      }
      // A batch ends when it is full, or when nothing more has arrived and no transaction is running: under
      // load the batches are full (and overlap as they may), when idle a single record goes at once. No timer.
      const full = open.records >= max;
      if (!full && fetcher.buffered > 0) {
        // Decoding a whole response in one go would hold the thread for several milliseconds, and the batches
        // in their transactions need the thread at each of their round trips: let I/O run between slices.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      if (!full && pipeline.storing > 0) {
        await Promise.race([fetcher.wait(), pipeline.storeSettled()]);
        continue;
      }
      if (handing) {
        if (!(await handing)) break;
        handing = undefined;
      }
      const batch = close(open);
      open = openBatch(max);
      // Stopping: a batch closed but not started is left uncommitted for the next owner.
      handing = pipeline.push(batch, () => !signal.aborted);
    }
    if (handing) await handing;
    // A fetcher failure surfaces through take(); one that failed while the loop waited surfaces here.
    if (fetcher.error && !signal.aborted) throw fetcher.error;
  } catch (err) {
    if (signal.aborted) return;
    throw new ProcessorError(ErrorCodes.CONSUMER, `fetching from Kafka failed: ${(err as Error).message}`, { cause: err });
  }
  // The batches already started finish; one that failed (only possible while stopping) surfaces here.
  await pipeline.drained().catch((err: unknown) => {
    if (!signal.aborted) throw err;
  });
}
