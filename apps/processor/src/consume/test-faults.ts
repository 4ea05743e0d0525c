import type { Config } from "../config.js";
import { NO_FAULTS, type FaultHooks } from "./faults.js";

/**
 * The fault hooks the tests switch on: PROCESSOR_FAULT_AFTER_DB_COMMIT=exit and
 * PROCESSOR_FAULT_BEFORE_CACHE_WRITE=exit (validated in config.ts) make the process SIGKILL itself at that point
 * of its first batch, as a crash would, with no chance to clean up. Neither set (every deployment): NO_FAULTS.
 */
export function faultHooks(config: Pick<Config, "faultAfterDbCommit" | "faultBeforeCacheWrite">): FaultHooks {
  if (config.faultAfterDbCommit === undefined && config.faultBeforeCacheWrite === undefined) return NO_FAULTS;
  const die = (): void => {
    process.kill(process.pid, "SIGKILL");
  };
  return {
    afterDbCommit: config.faultAfterDbCommit === "exit" ? die : NO_FAULTS.afterDbCommit,
    beforeCacheWrite: config.faultBeforeCacheWrite === "exit" ? die : NO_FAULTS.beforeCacheWrite,
    cacheSync: config.faultBeforeCacheWrite !== "exit",
  };
}
