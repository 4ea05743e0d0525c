// Brings up the local services (PostgreSQL, Redis, a real Kafka broker) so that `npm test` needs no manual step,
// and gives this jest run the directory test/program.ts shares program evaluations through.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startedBy, up } from "../scripts/services.mjs";

export default async function globalSetup() {
  // Set before the workers start, so every worker inherits it (test/program-cache.ts, PROGRAM_CACHE_ENV).
  process.env.EVENTSTACK_PROGRAM_CACHE_DIR = mkdtempSync(path.join(tmpdir(), "eventstack-program-"));
  const started = await up();
  globalThis.__eventstackStarted = startedBy(started);
}
