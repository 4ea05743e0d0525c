// Brings up the local services (PostgreSQL, Redis, a real Kafka broker) so that `npm test` needs no manual step.
import { up } from "../scripts/services.mjs";

export default async function globalSetup() {
  const started = await up();
  globalThis.__eventstackStartedKafka = started.kafka === "started";
}
