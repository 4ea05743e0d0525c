// The value parsers of the stack configuration's keys (components/config/schema.ts): each turns the raw string the
// Pulumi engine hands over (arrays as JSON) into a value, or returns an Invalid that says what was expected. The
// loader (components/config.ts) turns an Invalid into `<key> must be <expected> (got <raw>)`.
//
// Dependency-free on purpose: validating the configuration must not load the providers.
import { DIGEST_PATTERN } from "../defaults/images";

/** What a parser returns for a bad value: the words after "must be" in the problem it becomes. */
export class Invalid {
  constructor(readonly expected: string) {}
}
export type Parser<T> = (raw: string) => T | Invalid;

/** An integer within [min, max]; `expected` overrides the message where a relation to another key bounds it. */
export const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER, expected = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`): Parser<number> =>
  (raw) => {
    const n = Number(raw);
    return /^-?\d+$/.test(raw.trim()) && n >= min && n <= max ? n : new Invalid(expected);
  };

export const boolean: Parser<boolean> = (raw) => (raw === "true" ? true : raw === "false" ? false : new Invalid("true or false"));

export const oneOf =
  <T extends string>(...values: T[]): Parser<T> =>
  (raw) =>
    (values as string[]).includes(raw) ? (raw as T) : new Invalid(`one of ${values.map((v) => `"${v}"`).join(", ")}`);

export const matching =
  (pattern: RegExp, expected: string): Parser<string> =>
  (raw) =>
    pattern.test(raw) ? raw : new Invalid(expected);

/** The value a config string holds as JSON, or undefined when it is not JSON (the parser then says what was expected). */
function jsonOrUndefined(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/** A JSON array of strings, each checked by `item`; `nonEmpty` rejects []. */
export const list =
  <T extends string>(item: Parser<T>, itemExpected: string, nonEmpty = false): Parser<T[]> =>
  (raw) => {
    const parsed = jsonOrUndefined(raw);
    const expected = `${nonEmpty ? "a non-empty" : "an"} array of ${itemExpected}`;
    if (!Array.isArray(parsed) || (nonEmpty && parsed.length === 0)) return new Invalid(expected);
    const out: T[] = [];
    for (const v of parsed) {
      const r = typeof v === "string" ? item(v) : new Invalid(expected);
      if (r instanceof Invalid) return new Invalid(expected);
      out.push(r);
    }
    if (new Set(out).size !== out.length) return new Invalid(`${expected} without duplicates`);
    return out;
  };

/** Serverless v2 capacity: a multiple of 0.5 ACU within [min, 256]. */
export const acu =
  (min: number): Parser<number> =>
  (raw) => {
    const n = Number(raw);
    return raw.trim() !== "" && Number.isFinite(n) && n >= min && n <= 256 && Number.isInteger(n * 2)
      ? n
      : new Invalid(`a multiple of 0.5 from ${min} to 256 (ACUs)`);
  };

export const ipv4Cidr = (minPrefix: number, maxPrefix: number): Parser<string> => (raw) => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(raw);
  const expected = `an IPv4 CIDR with a prefix from /${minPrefix} to /${maxPrefix}`;
  if (!m) return new Invalid(expected);
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix < minPrefix || prefix > maxPrefix) return new Invalid(expected);
  const address = octets.reduce((a, o) => a * 256 + o, 0);
  const hostBits = 2 ** (32 - prefix);
  return address % hostBits === 0 ? raw : new Invalid(`${expected} with no host bits set`);
};

/**
 * CIDRs admitted to the Kubernetes API endpoint. 0.0.0.0/0 and ::/0 are refused by name, before the IPv4 check, so
 * that the message says why rather than only what.
 */
export const endpointCidrs =
  (why: string): Parser<string[]> =>
  (raw) => {
    const parsed = jsonOrUndefined(raw);
    if (Array.isArray(parsed) && parsed.some((c) => c === "0.0.0.0/0" || c === "::/0"))
      return new Invalid(`an array of IPv4 CIDRs without 0.0.0.0/0 or ::/0, which ${why}`);
    return list(ipv4Cidr(0, 32), "IPv4 CIDRs")(raw);
  };

export const nonEmpty = matching(/\S/, "a non-empty string");
export const kafkaName = matching(/^[a-zA-Z0-9._-]{1,249}$/, "a Kafka topic or group name ([a-zA-Z0-9._-], 1 to 249 characters)");
export const duration = matching(/^\d+(s|m|h)$/, "a duration such as 30s, 5m or 1h");
export const budget = matching(/^(\d+|\d{1,2}%|100%)$/, 'a node count or a percentage such as "10%"');
export const iamPrincipalArn = matching(/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@\/-]+$/, "an IAM role or user ARN");
export const httpsUrl = matching(/^https:\/\/[^\s/]+(\/\S*)?$/, "an https URL");
/** An OCI manifest digest as ECR reports it (the only algorithm ECR uses). */
export const imageDigest = matching(DIGEST_PATTERN, 'an image digest "sha256:" followed by 64 lower-case hex digits, or empty');
export const httpUrl = matching(/^https?:\/\/[^\s/]+(\/\S*)?$/, "an http or https URL");
/** A path inside the repository: relative, no `..`, no trailing slash. */
export const repoPath = matching(/^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._\/-]*[A-Za-z0-9._-]$/, "a relative directory inside the repository such as deploy/prod/workloads (no leading /, no . or .. segments)");
export const gitRevision = matching(/^[A-Za-z0-9._\/-]{1,250}$/, "a branch, tag or commit such as main");
export const optional = <T>(p: Parser<T>): Parser<T | ""> => (raw) => (raw === "" ? "" : p(raw));
