// Stops the broker only if this jest run started it; a broker that was already running stays up.
import { down } from "../scripts/services.mjs";

export default async function globalTeardown() {
  if (globalThis.__eventstackStartedKafka) await down();
}
