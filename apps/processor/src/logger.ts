import { pino, type Logger } from "pino";

/** JSON logs on stdout (the cluster's log shipper reads them), ISO times, level as a string. */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { service: "eventstack-processor", ...base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
