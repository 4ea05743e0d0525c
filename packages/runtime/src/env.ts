/**
 * Reading the environment the same way in both services: a blank variable counts as unset, every problem is
 * collected, and each message names the variable, what was expected and what was found. `finish` throws them all
 * at once as one ConfigError.
 */
import { ConfigError } from "./errors.js";

export type Env = Record<string, string | undefined>;

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const KAFKA_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
export const KAFKA_TOPIC_EXPECTED = "a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)";
// Kafka client ids travel in every request header and end up in broker quotas and logs: keep them tame.
export const KAFKA_CLIENT_ID = /^[a-zA-Z0-9._-]{1,255}$/;
export const KAFKA_CLIENT_ID_EXPECTED = "1-255 of a-z A-Z 0-9 . _ -";

export type KafkaAuth = "none" | "msk-iam";

export interface Broker {
  host: string;
  port: number;
}

/** The Kafka connection settings both services read the same way (KAFKA_BOOTSTRAP, KAFKA_AUTH, KAFKA_TLS). */
export interface KafkaConnection {
  brokers: Broker[];
  auth: KafkaAuth;
  /** Always true with msk-iam: MSK only offers IAM on its TLS listener (port 9098). */
  tls: boolean;
}

export class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  /** The trimmed value; undefined when unset or blank. */
  read(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  }

  int(name: string, fallback: number, min: number, max: number): number;
  int(name: string, fallback: undefined, min: number, max: number): number | undefined;
  int(name: string, fallback: number | undefined, min: number, max: number): number | undefined {
    const raw = this.read(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw) || n < min || n > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.read(name);
    if (raw === undefined) return fallback;
    if (raw === "true") return true;
    if (raw === "false") return false;
    this.problems.push(`${name} must be "true" or "false", got "${raw}"`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.read(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    this.problems.push(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
    return fallback;
  }

  /** The value (or the fallback) checked against `pattern`; `what` says what was expected. */
  matching(name: string, pattern: RegExp, what: string, fallback: string): string {
    const raw = this.read(name) ?? fallback;
    if (!pattern.test(raw)) this.problems.push(`${name} must be ${what}, got "${raw}"`);
    return raw;
  }

  logLevel(fallback: LogLevel): LogLevel {
    return this.oneOf("LOG_LEVEL", LOG_LEVELS, fallback);
  }

  /** KAFKA_BOOTSTRAP, KAFKA_AUTH, KAFKA_TLS and the AWS region, with the rules MSK imposes on their mix. */
  kafkaConnection(defaults: { KAFKA_BOOTSTRAP: string; KAFKA_AUTH: KafkaAuth; KAFKA_TLS: boolean }): KafkaConnection {
    const bootstrapRaw = this.read("KAFKA_BOOTSTRAP") ?? defaults.KAFKA_BOOTSTRAP;
    const brokers: Broker[] = [];
    for (const entry of bootstrapRaw.split(",").map((s) => s.trim())) {
      const m = /^([^\s:]+):(\d{1,5})$/.exec(entry);
      const port = Number(m?.[2]);
      if (!m || port < 1 || port > 65535) {
        this.problems.push(`KAFKA_BOOTSTRAP must be a comma-separated list of host:port, got "${bootstrapRaw}"`);
        brokers.length = 0;
        break;
      }
      brokers.push({ host: m[1] as string, port });
    }
    const auth = this.oneOf<KafkaAuth>("KAFKA_AUTH", ["none", "msk-iam"], defaults.KAFKA_AUTH);
    const tls = this.bool("KAFKA_TLS", defaults.KAFKA_TLS);
    if (auth === "msk-iam" && this.read("KAFKA_TLS") === "false") {
      this.problems.push(`KAFKA_TLS cannot be "false" when KAFKA_AUTH is "msk-iam" (MSK serves IAM authentication on its TLS listener only)`);
    }
    if (auth === "msk-iam" && this.awsRegion() === undefined) {
      this.problems.push(`AWS_REGION is required when KAFKA_AUTH is "msk-iam" (the region that signs MSK auth tokens)`);
    }
    return { brokers, auth, tls: tls || auth === "msk-iam" };
  }

  /** AWS_REGION, else AWS_DEFAULT_REGION (the SDK's own order). */
  awsRegion(): string | undefined {
    return this.read("AWS_REGION") ?? this.read("AWS_DEFAULT_REGION");
  }

  /** Throws every problem found so far as one ConfigError with `code`. */
  finish<Code extends string>(code: Code): void {
    if (this.problems.length > 0) throw new ConfigError(code, [...this.problems]);
  }
}
