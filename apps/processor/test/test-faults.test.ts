/**
 * The fault hooks are chosen once at start-up from the PROCESSOR_FAULT_* variables: none (NO_FAULTS, the
 * production value) unless a variable says exit. What the hooks then do, SIGKILL at their point of a batch, is
 * tested on real processes in faults.test.ts. No services needed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig } from "../src/config.js";
import { NO_FAULTS } from "../src/consume/faults.js";
import { faultHooks } from "../src/consume/test-faults.js";

/** Which hooks of `env` do something, and whether the cache sync runs. */
function selected(env: Record<string, string>) {
  const hooks = faultHooks(loadConfig(env));
  return {
    afterDbCommit: hooks.afterDbCommit !== NO_FAULTS.afterDbCommit,
    beforeCacheWrite: hooks.beforeCacheWrite !== NO_FAULTS.beforeCacheWrite,
    cacheSync: hooks.cacheSync,
  };
}

test("without a PROCESSOR_FAULT_* variable the processor runs NO_FAULTS, which does nothing and keeps the cache sync", () => {
  assert.equal(faultHooks(loadConfig({})), NO_FAULTS);
  assert.equal(NO_FAULTS.afterDbCommit(), undefined);
  assert.equal(NO_FAULTS.beforeCacheWrite(), undefined);
  assert.equal(NO_FAULTS.cacheSync, true);
});

test("each variable switches on its own hook; the one before the cache write also turns the cache sync off", () => {
  assert.deepEqual(selected({ PROCESSOR_FAULT_AFTER_DB_COMMIT: "exit" }), { afterDbCommit: true, beforeCacheWrite: false, cacheSync: true });
  assert.deepEqual(selected({ PROCESSOR_FAULT_BEFORE_CACHE_WRITE: "exit" }), { afterDbCommit: false, beforeCacheWrite: true, cacheSync: false });
  assert.deepEqual(
    selected({ PROCESSOR_FAULT_AFTER_DB_COMMIT: "exit", PROCESSOR_FAULT_BEFORE_CACHE_WRITE: "exit" }),
    { afterDbCommit: true, beforeCacheWrite: true, cacheSync: false },
  );
});
