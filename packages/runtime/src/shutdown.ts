/**
 * Start-up and graceful shutdown, the same in both services.
 *
 * A bad environment: the ConfigError's problems on stderr, prefixed with the service's name, and exit code 78
 * (EX_CONFIG from sysexits.h), so an orchestrator or a person tells a configuration error from a crash.
 *
 * SIGTERM (Kubernetes) or SIGINT, or a fatal failure the service reports: `drain` runs at once (readiness turns 503,
 * no new work is taken); after `delayMs` (time for the endpoint removal to reach every load balancer) `stop` runs
 * (the listener closes, in-flight work finishes, clients flush and close); then the process exits with 0 (or the
 * code the failure gave). If `stop` throws, or everything takes longer than `timeoutMs`, the process exits 1; keep
 * `timeoutMs` below the pod's terminationGracePeriodSeconds. A second signal is ignored: the handlers stay installed
 * (with `process.once`, a process whose shutdown was quick ended as killed by SIGTERM instead of exiting 0 on
 * Node 24; test/shutdown.test.ts shows it, 2026-12-06).
 */
import { ConfigError } from "./errors.js";

export const EXIT_CONFIG = 78;

/** `load()`, or exit 78 with the problems on stderr when it throws a ConfigError. */
export function loadOrExit<T>(service: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${service}: ${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
}

interface ShutdownLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ShutdownOptions {
  log: ShutdownLog;
  timeoutMs: number;
  /** Wait between `drain` and `stop`; default 0. */
  delayMs?: number;
  /** At once: stop being ready. */
  drain?: () => void;
  /** Close everything; the process exits when it resolves. */
  stop: () => Promise<void>;
  /** Default process.exit; tests pass their own. */
  exit?: (code: number) => void;
}

export interface Shutdown {
  /** Starts the shutdown (once); `exitCode` is the code to exit with when it completes. */
  begin(reason: string, exitCode?: number): Promise<void>;
}

/** Installs the SIGTERM and SIGINT handlers and returns the shutdown, for a fatal failure to begin it too. */
export function handleShutdown(options: ShutdownOptions): Shutdown {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const delayMs = options.delayMs ?? 0;
  const { log, timeoutMs } = options;
  let started: Promise<void> | undefined;
  const run = async (reason: string, exitCode: number) => {
    log.info({ signal: reason, timeoutMs, delayMs }, "shutting down: not ready, finishing in-flight work");
    const force = setTimeout(() => {
      log.error({ timeoutMs }, "shutdown did not finish in time; exiting");
      exit(1);
    }, timeoutMs);
    force.unref();
    options.drain?.();
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    try {
      await options.stop();
    } catch (err) {
      clearTimeout(force);
      log.error({ err }, "error during shutdown; exiting");
      exit(1);
      return;
    }
    clearTimeout(force);
    log.info({ exitCode }, "shutdown complete");
    exit(exitCode);
  };
  const shutdown: Shutdown = { begin: (reason, exitCode = 0) => (started ??= run(reason, exitCode)) };
  // `on`, not `once`: a second signal during the shutdown is ignored rather than killing the process mid-drain.
  process.on("SIGTERM", () => void shutdown.begin("SIGTERM"));
  process.on("SIGINT", () => void shutdown.begin("SIGINT"));
  return shutdown;
}
