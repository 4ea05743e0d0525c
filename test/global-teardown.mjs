// Stops what this jest run's setup started (the broker, Redis, PostgreSQL); what was already running stays up. Removes the
// run's shared program evaluations.
import { rmSync } from "node:fs";
import { down } from "../scripts/services.mjs";

export default async function globalTeardown() {
  const dir = process.env.EVENTSTACK_PROGRAM_CACHE_DIR;
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (globalThis.__eventstackStarted?.length) await down(undefined, globalThis.__eventstackStarted);
}
