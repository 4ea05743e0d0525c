// Stops the broker only if this jest run started it; a broker that was already running stays up. Removes the
// run's shared program evaluations.
import { rmSync } from "node:fs";
import { down } from "../scripts/services.mjs";

export default async function globalTeardown() {
  const dir = process.env.EVENTSTACK_PROGRAM_CACHE_DIR;
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (globalThis.__eventstackStartedKafka) await down();
}
