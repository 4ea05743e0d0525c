import { pino, type Logger, type LoggerOptions } from "pino";

/** JSON logs on stdout (the cluster's log shipper reads them), ISO times, the level as a string, the service named. */
export function loggerOptions(level: string, service: string): LoggerOptions {
  return {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
}

export function createLogger(level: string, service: string, destination?: pino.DestinationStream): Logger {
  return destination === undefined ? pino(loggerOptions(level, service)) : pino(loggerOptions(level, service), destination);
}
