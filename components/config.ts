// Reads and validates the whole stack configuration before any resource is declared.
//
// Pulumi.yaml is the one place where keys, types and defaults are declared; the Pulumi CLI applies those
// defaults before the program runs, so a key that is absent here was removed from Pulumi.yaml or the program
// runs outside the CLI. This module adds what Pulumi.yaml cannot express (ranges, enums, formats, relations
// between keys) and reports every problem at once:
//
//   Invalid stack configuration (2 problems):
//     - eventstack:cluster.systemNodes must be an integer from 1 to 100 (got "abc")
//     - eventstack:network.natGateways must be one of "single", "onePerAz" (got "two")
//
// Behaviour follows these values only; nothing in the program asks which stack it is.
import * as pulumi from "@pulumi/pulumi";
import { accessEntryKey } from "./cluster";
import { GITHUB_REPOSITORY } from "./image-push-role";
import { DIGEST_PATTERN } from "./images";
import { LINKERD_DEFAULTS } from "./linkerd";
import { systemSizingProblem } from "./system-pods";
import { VERSIONS } from "./versions";

export const PROJECT = "eventstack";

/** The Pulumi.yaml type of each key, checked against Pulumi.yaml by test/config.test.ts. */
export type ConfigType = "string" | "integer" | "boolean" | "array";

export interface StackConfig {
  /** The AWS region: the provider's own `aws:region` key, else AWS_REGION / AWS_DEFAULT_REGION. */
  region: string;
  tags: { owner: string; costCenter: string };
  logRetentionDays: number;
  network: {
    cidr: string;
    availabilityZones: number;
    natGateways: "single" | "onePerAz";
    flowLogs: boolean;
    interfaceEndpoints: boolean;
  };
  cluster: {
    kubernetesVersion: string;
    endpointAccess: EndpointAccess;
    publicEndpointCidrs: string[];
    privateEndpointCidrs: string[];
    adminPrincipalArns: string[];
    systemInstanceTypes: string[];
    systemArchitecture: Architecture;
    systemNodes: number;
  };
  karpenter: {
    cpuLimit: number;
    memoryLimitGiB: number;
    capacityTypes: ("spot" | "on-demand")[];
    architectures: Architecture[];
    consolidateAfter: string;
    disruptionBudget: string;
  };
  ingest: {
    minReplicas: number;
    maxReplicas: number;
    targetCpuUtilization: number;
    maxBatchEvents: number;
    maxBodyBytes: number;
    maxEventDataBytes: number;
  };
  processor: { minReplicas: number; maxReplicas: number; lagThreshold: number };
  aurora: {
    engineVersion: string;
    minCapacity: number;
    maxCapacity: number;
    autoPauseSeconds: number;
    readers: number;
    backupRetentionDays: number;
    deletionProtection: boolean;
    slowStatementMs: number;
    databaseName: string;
  };
  cache: { engineVersion: string; nodeType: string; replicas: number; snapshotRetentionDays: number };
  kafka: {
    version: string;
    brokers: number;
    instanceType: string;
    volumeSizeGiB: number;
    maxVolumeSizeGiB: number;
    replicationFactor: number;
    minInsyncReplicas: number;
    eventsTopic: string;
    eventsPartitions: number;
    eventsRetentionHours: number;
    deadLetterTopic: string;
    deadLetterPartitions: number;
    deadLetterRetentionHours: number;
    consumerGroup: string;
  };
  api: {
    throttleRateLimit: number;
    throttleBurstLimit: number;
    accountRateLimit: number;
    accountBurstLimit: number;
    requestRateQuota: number;
    corsOrigins: string[];
    jwtIssuer: string;
    jwtAudiences: string[];
    domainName: string;
    hostedZoneId: string;
  };
  mesh: { highAvailability: boolean; issuerValidityHours: number };
  delivery: {
    mode: DeliveryMode;
    gitRepository: string;
    gitPath: string;
    gitRevision: string;
    /** "" (default): the stack's own AMP workspace (analysisPrometheus in components/progressive-delivery.ts). */
    analysisPrometheusUrl: string;
  };
  observability: { alertEmails: string[]; scrapeIntervalSeconds: number; traceLatencyThresholdMs: number; traceSamplePercent: number };
  images: ImagesConfig;
}

/** The services whose images the program deploys; each has `apps/<service>/Dockerfile`. */
export const SERVICES = ["ingest", "processor"] as const;
export type Service = (typeof SERVICES)[number];

/** Which images the program deploys, and who may push them (components/images.ts, docs/delivery.md#images). */
export interface ImagesConfig {
  /** Build and push the images inside `pulumi up` (a first deploy from a laptop) instead of deploying `digests`. */
  build: boolean;
  /** Per service, the manifest digest (`sha256:...`) to deploy from the stack's ECR repository; empty when `build`. */
  digests: Record<Service, string>;
  /** `owner/name` of the GitHub repository whose main branch may push images; empty: no push role. */
  githubRepository: string;
  /** The account's existing IAM OIDC provider for GitHub Actions; empty: the stack creates it. */
  githubOidcProviderArn: string;
}

/** Who applies the two workloads' Kubernetes objects (docs/delivery.md). */
export type DeliveryMode = "pulumi" | "argocd";

export type Architecture = "arm64" | "amd64";

/** Where the Kubernetes API endpoint answers (components/cluster.ts). */
export type EndpointAccess = "public-and-private" | "private";

/** The exception thrown for invalid configuration: one message naming every bad key. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Reads one raw config value by its full key (`eventstack:cluster.minNodes`, `aws:region`), as the Pulumi
 * engine hands it over: a string, with arrays as JSON.
 */
export type ConfigReader = (fullKey: string) => string | undefined;

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

// ------------------------------------------------------------------ value parsers
// Each parser turns a raw string into a value or returns an Invalid that says what was expected.

class Invalid {
  constructor(readonly expected: string) {}
}
type Parser<T> = (raw: string) => T | Invalid;

/** An integer within [min, max]; `expected` overrides the message where a relation to another key bounds it. */
const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER, expected = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`): Parser<number> =>
  (raw) => {
    const n = Number(raw);
    return /^-?\d+$/.test(raw.trim()) && n >= min && n <= max ? n : new Invalid(expected);
  };

const boolean: Parser<boolean> = (raw) => (raw === "true" ? true : raw === "false" ? false : new Invalid("true or false"));

const oneOf =
  <T extends string>(...values: T[]): Parser<T> =>
  (raw) =>
    (values as string[]).includes(raw) ? (raw as T) : new Invalid(`one of ${values.map((v) => `"${v}"`).join(", ")}`);

const matching =
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
const list =
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
const acu =
  (min: number): Parser<number> =>
  (raw) => {
    const n = Number(raw);
    return raw.trim() !== "" && Number.isFinite(n) && n >= min && n <= 256 && Number.isInteger(n * 2)
      ? n
      : new Invalid(`a multiple of 0.5 from ${min} to 256 (ACUs)`);
  };

const ipv4Cidr = (minPrefix: number, maxPrefix: number): Parser<string> => (raw) => {
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
const endpointCidrs =
  (why: string): Parser<string[]> =>
  (raw) => {
    const parsed = jsonOrUndefined(raw);
    if (Array.isArray(parsed) && parsed.some((c) => c === "0.0.0.0/0" || c === "::/0"))
      return new Invalid(`an array of IPv4 CIDRs without 0.0.0.0/0 or ::/0, which ${why}`);
    return list(ipv4Cidr(0, 32), "IPv4 CIDRs")(raw);
  };

const nonEmpty = matching(/\S/, "a non-empty string");
const name = matching(/^[a-zA-Z0-9._-]{1,249}$/, "a Kafka topic or group name ([a-zA-Z0-9._-], 1 to 249 characters)");
const duration = matching(/^\d+(s|m|h)$/, "a duration such as 30s, 5m or 1h");
const budget = matching(/^(\d+|\d{1,2}%|100%)$/, 'a node count or a percentage such as "10%"');
const iamPrincipalArn = matching(/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@\/-]+$/, "an IAM role or user ARN");
const httpsUrl = matching(/^https:\/\/[^\s/]+(\/\S*)?$/, "an https URL");
/** An OCI manifest digest as ECR reports it (the only algorithm ECR uses). */
const imageDigest = matching(DIGEST_PATTERN, 'an image digest "sha256:" followed by 64 lower-case hex digits, or empty');
const httpUrl = matching(/^https?:\/\/[^\s/]+(\/\S*)?$/, "an http or https URL");
/** A path inside the repository: relative, no `..`, no trailing slash. */
const repoPath = matching(/^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._\/-]*[A-Za-z0-9._-]$/, "a relative directory inside the repository such as deploy/prod/workloads (no leading /, no . or .. segments)");
const gitRevision = matching(/^[A-Za-z0-9._\/-]{1,250}$/, "a branch, tag or commit such as main");
const optional = <T>(p: Parser<T>): Parser<T | ""> => (raw) => (raw === "" ? "" : p(raw));

// ------------------------------------------------------------------ the key table

interface Field<T> {
  type: ConfigType;
  parse: Parser<T>;
}
const f = <T>(type: ConfigType, parse: Parser<T>): Field<T> => ({ type, parse });

/** Every key the program reads, its Pulumi.yaml type and its parser. */
export const FIELDS = {
  "tags.owner": f("string", nonEmpty),
  "tags.costCenter": f("string", nonEmpty),
  logRetentionDays: f("integer", (raw) =>
    LOG_RETENTION_DAYS.includes(Number(raw)) && /^\d+$/.test(raw) ? Number(raw) : new Invalid(`one of CloudWatch's retention periods (${LOG_RETENTION_DAYS.join(", ")})`),
  ),
  "network.cidr": f("string", ipv4Cidr(16, 20)),
  "network.availabilityZones": f("integer", integer(2, 3)),
  "network.natGateways": f("string", oneOf("single", "onePerAz")),
  "network.flowLogs": f("boolean", boolean),
  "network.interfaceEndpoints": f("boolean", boolean),
  // Only a version whose managed add-ons are pinned in components/versions.ts can be deployed, so that is what
  // validation accepts: an unpinned version is reported here with the rest, not later by the cluster component.
  "cluster.kubernetesVersion": f("string", (raw) =>
    raw in VERSIONS.eksAddons ? raw : new Invalid(`a Kubernetes minor version with pinned add-ons in components/versions.ts (${Object.keys(VERSIONS.eksAddons).map((k) => `"${k}"`).join(", ")})`),
  ),
  "cluster.endpointAccess": f("string", oneOf<EndpointAccess>("public-and-private", "private")),
  "cluster.publicEndpointCidrs": f("array", endpointCidrs("would open the Kubernetes API endpoint to the whole internet: list the networks `pulumi up` runs from")),
  "cluster.privateEndpointCidrs": f("array", endpointCidrs("would admit every network connected to the VPC to the Kubernetes API: list the networks `pulumi up` runs from")),
  "cluster.adminPrincipalArns": f("array", list(iamPrincipalArn, "IAM role or user ARNs")),
  "cluster.systemInstanceTypes": f("array", list(matching(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, ""), "EC2 instance types", true)),
  "cluster.systemArchitecture": f("string", oneOf<Architecture>("arm64", "amd64")),
  "cluster.systemNodes": f("integer", integer(1, 100)),
  "karpenter.cpuLimit": f("integer", integer(2)),
  "karpenter.memoryLimitGiB": f("integer", integer(4)),
  "karpenter.capacityTypes": f("array", list(oneOf("spot", "on-demand"), '"spot" or "on-demand"', true)),
  "karpenter.architectures": f("array", list(oneOf<Architecture>("arm64", "amd64"), '"arm64" or "amd64"', true)),
  "karpenter.consolidateAfter": f("string", duration),
  "karpenter.disruptionBudget": f("string", budget),
  "ingest.minReplicas": f("integer", integer(1, 1000)),
  "ingest.maxReplicas": f("integer", integer(1, 1000)),
  "ingest.targetCpuUtilization": f("integer", integer(10, 95)),
  "ingest.maxBatchEvents": f("integer", integer(1, 10000)),
  "ingest.maxBodyBytes": f("integer", integer(1024, 10 * 1024 * 1024)),
  // A record carries the data plus the CloudEvents headers and must fit ingest's KAFKA_MAX_BATCH_BYTES (1,000,000,
  // under MSK's default message.max.bytes of 1 MiB); ingest itself refuses to start past that, so refuse it here.
  "ingest.maxEventDataBytes": f("integer", integer(1, 900_000, "an integer from 1 to 900000 (its Kafka record, headers included, must stay under 1,000,000 bytes)")),
  "processor.minReplicas": f("integer", integer(1, 1000)),
  "processor.maxReplicas": f("integer", integer(1, 1000)),
  "processor.lagThreshold": f("integer", integer(1)),
  "aurora.engineVersion": f("string", matching(/^(1[6-9]|[2-9]\d)\.\d+$/, 'an Aurora PostgreSQL version 16 or later, such as "16.8"')),
  "aurora.minCapacity": f("string", acu(0)),
  "aurora.maxCapacity": f("string", acu(1)),
  "aurora.autoPauseSeconds": f("integer", integer(300, 86400)),
  "aurora.readers": f("integer", integer(0, 15)),
  "aurora.backupRetentionDays": f("integer", integer(1, 35)),
  "aurora.deletionProtection": f("boolean", boolean),
  "aurora.slowStatementMs": f("integer", integer(0)),
  "aurora.databaseName": f("string", matching(/^[a-z][a-z0-9_]{0,62}$/, "a PostgreSQL identifier (lower case letter, then letters, digits or _)")),
  "cache.engineVersion": f("string", matching(/^[7-9]\.\d+$/, 'a Valkey version such as "8.0"')),
  "cache.nodeType": f("string", matching(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, "an ElastiCache node type such as cache.r7g.large")),
  "cache.replicas": f("integer", integer(0, 5)),
  "cache.snapshotRetentionDays": f("integer", integer(0, 35)),
  "kafka.version": f("string", matching(/^\d+\.\d+\.(\d+|x)(\.kraft)?$/, 'an MSK Kafka version such as "3.9.x"')),
  "kafka.brokers": f("integer", integer(2, 30)),
  "kafka.instanceType": f("string", matching(/^kafka\.[a-z0-9]+\.[a-z0-9]+$/, "an MSK broker instance type such as kafka.m7g.large")),
  "kafka.volumeSizeGiB": f("integer", integer(1, 16384)),
  "kafka.maxVolumeSizeGiB": f("integer", integer(1, 16384)),
  "kafka.replicationFactor": f("integer", integer(2, 5)),
  "kafka.minInsyncReplicas": f("integer", integer(1, 4)),
  "kafka.eventsTopic": f("string", name),
  "kafka.eventsPartitions": f("integer", integer(1, 1000)),
  "kafka.eventsRetentionHours": f("integer", integer(1)),
  "kafka.deadLetterTopic": f("string", name),
  "kafka.deadLetterPartitions": f("integer", integer(1, 1000)),
  "kafka.deadLetterRetentionHours": f("integer", integer(1)),
  "kafka.consumerGroup": f("string", name),
  "api.throttleRateLimit": f("integer", integer(1)),
  "api.throttleBurstLimit": f("integer", integer(1)),
  "api.accountRateLimit": f("integer", integer(1)),
  "api.accountBurstLimit": f("integer", integer(1)),
  "api.requestRateQuota": f("integer", integer(0)),
  "api.corsOrigins": f("array", list(matching(/^https?:\/\/[^\s/]+$/, ""), "origins such as https://app.example.com")),
  "api.jwtIssuer": f("string", optional(httpsUrl)),
  "api.jwtAudiences": f("array", list(nonEmpty, "non-empty strings")),
  "api.domainName": f("string", optional(matching(/^([a-z0-9-]+\.)+[a-z]{2,}$/, "a DNS name such as api.example.com"))),
  "api.hostedZoneId": f("string", optional(matching(/^Z[A-Z0-9]{1,31}$/, "a Route 53 hosted zone id such as Z0123456789ABC"))),
  "mesh.highAvailability": f("boolean", boolean),
  // What components/linkerd.ts can issue: longer than its renewal time (a quarter of the validity, at least
  // minimumRenewalHours) and shorter than the trust anchor it is signed by.
  "mesh.issuerValidityHours": f("integer", integer(LINKERD_DEFAULTS.minimumRenewalHours + 1, LINKERD_DEFAULTS.trustAnchorValidityHours - 1)),
  "images.build": f("boolean", boolean),
  "images.ingest": f("string", optional(imageDigest)),
  "images.processor": f("string", optional(imageDigest)),
  "delivery.githubRepository": f(
    "string",
    optional(matching(GITHUB_REPOSITORY, "a GitHub repository as its OIDC subject names it: owner/name (acme/eventstack) or, with immutable subject claims, owner@<id>/name@<id> (acme@123456/eventstack@789012); or empty")),
  ),
  "delivery.githubOidcProviderArn": f(
    "string",
    optional(
      matching(
        /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/,
        "the ARN of the account's IAM OIDC provider for token.actions.githubusercontent.com, or empty",
      ),
    ),
  ),
  "observability.alertEmails": f("array", list(matching(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, ""), "email addresses")),
  "observability.scrapeIntervalSeconds": f("integer", integer(10, 300)),
  "observability.traceLatencyThresholdMs": f("integer", integer(1, 60_000)),
  "observability.traceSamplePercent": f("integer", integer(0, 100)),
  "delivery.mode": f("string", oneOf<DeliveryMode>("pulumi", "argocd")),
  "delivery.gitRepository": f("string", optional(httpsUrl)),
  "delivery.gitPath": f("string", repoPath),
  "delivery.gitRevision": f("string", gitRevision),
  "delivery.analysisPrometheusUrl": f("string", optional(httpUrl)),
} satisfies Record<string, Field<unknown>>;

/**
 * Keys the program no longer reads, with what replaced them. Pulumi passes a stack's keys through whether or not
 * Pulumi.yaml declares them, so a stale one would otherwise be ignored without a word.
 */
export const REMOVED_KEYS: Record<string, string> = {
  "cluster.maxNodes": "nothing scales the system node group; set its size with cluster.systemNodes",
  "cluster.minNodes": "the system node group has a fixed size; set it with cluster.systemNodes",
};

export type ConfigKey = keyof typeof FIELDS;
type Values = { [K in ConfigKey]: (typeof FIELDS)[K] extends Field<infer T> ? T : never };

/** The reader a real run uses: the engine's config for this project. */
export function pulumiReader(): ConfigReader {
  return (fullKey) => {
    const [namespace, ...rest] = fullKey.split(":");
    return new pulumi.Config(namespace).get(rest.join(":"));
  };
}

const show = (raw: string) => JSON.stringify(raw);

/**
 * Reads every key, validates each and the relations between them, and returns the typed config.
 * Throws one ConfigError listing every problem.
 */
export function loadConfig(read: ConfigReader = pulumiReader(), env: NodeJS.ProcessEnv = process.env): StackConfig {
  const readEnv = (name: string) => (env[name] === "" ? undefined : env[name]);
  const problems: string[] = [];
  const v = {} as Values;
  const raw = {} as Record<ConfigKey, string | undefined>;
  for (const key of Object.keys(FIELDS) as ConfigKey[]) {
    const value = read(`${PROJECT}:${key}`);
    raw[key] = value;
    const field: Field<unknown> = FIELDS[key];
    if (value === undefined) {
      problems.push(`${PROJECT}:${key} is required; its default is declared in Pulumi.yaml, which the Pulumi CLI applies (got nothing)`);
      continue;
    }
    const parsed = field.parse(value);
    if (parsed instanceof Invalid) problems.push(`${PROJECT}:${key} must be ${parsed.expected} (got ${show(value)})`);
    else (v as Record<string, unknown>)[key] = parsed;
  }

  for (const [key, replacement] of Object.entries(REMOVED_KEYS)) {
    const value = read(`${PROJECT}:${key}`);
    if (value !== undefined) problems.push(`${PROJECT}:${key} was removed: ${replacement} (got ${show(value)})`);
  }

  // The region is the stack's aws:region, or else the environment's AWS_REGION / AWS_DEFAULT_REGION, the same
  // fallback the AWS provider applies. The committed stack files name no region, so CI (the preview workflow
  // exports AWS_REGION with its credentials) and each user choose it without editing them.
  const region = read("aws:region") ?? readEnv("AWS_REGION") ?? readEnv("AWS_DEFAULT_REGION");
  if (region === undefined || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
    problems.push(
      `aws:region must be an AWS region such as eu-west-1, from \`pulumi config set aws:region <region>\` or AWS_REGION in the environment (got ${region === undefined ? "nothing" : show(region)})`,
    );

  // Relations between keys: checked when both sides parsed, reported against the dependent key.
  const ok = (...keys: ConfigKey[]) => keys.every((k) => k in v);
  const relation = (key: ConfigKey, holds: boolean, expected: string) => {
    if (!holds) problems.push(`${PROJECT}:${key} must be ${expected} (got ${show(raw[key] ?? "")})`);
  };
  if (ok("cluster.systemNodes", "mesh.highAvailability"))
    relation(
      "cluster.systemNodes",
      !v["mesh.highAvailability"] || v["cluster.systemNodes"] >= LINKERD_DEFAULTS.haMinimumSystemNodes,
      `at least ${LINKERD_DEFAULTS.haMinimumSystemNodes} when mesh.highAvailability is true (Linkerd's replicas need separate nodes and one free to drain into)`,
    );
  if (ok("cluster.systemNodes", "cluster.systemInstanceTypes", "mesh.highAvailability", "delivery.mode"))
    // Argo CD runs on the system nodes too in argocd mode.
    for (const type of v["cluster.systemInstanceTypes"]) {
      const problem = systemSizingProblem(type, { systemNodes: v["cluster.systemNodes"], meshHighAvailability: v["mesh.highAvailability"], argocd: v["delivery.mode"] === "argocd" });
      if (problem) problems.push(`${PROJECT}:cluster.systemInstanceTypes: ${problem}`);
    }
  // `pulumi up` runs its Kubernetes and Helm steps from wherever it is started, outside the VPC it creates, so
  // the deployer says where that is: a public endpoint open to those CIDRs, or a private one it already reaches.
  if (ok("cluster.endpointAccess", "cluster.publicEndpointCidrs", "cluster.privateEndpointCidrs")) {
    if (v["cluster.endpointAccess"] === "public-and-private")
      relation(
        "cluster.publicEndpointCidrs",
        v["cluster.publicEndpointCidrs"].length > 0,
        'a non-empty array of IPv4 CIDRs when cluster.endpointAccess is "public-and-private": the networks `pulumi up` runs from (a workstation\'s or CI runner\'s public egress), the only ones the public Kubernetes API endpoint admits',
      );
    else {
      relation(
        "cluster.privateEndpointCidrs",
        v["cluster.privateEndpointCidrs"].length > 0,
        'a non-empty array of IPv4 CIDRs when cluster.endpointAccess is "private": the networks inside the VPC or connected to it (a VPN, a CI runner in the VPC) that `pulumi up` runs from, which the cluster security group admits on 443; a new stack\'s VPC does not exist before its first `pulumi up`, so deploy it with "public-and-private" first (docs/deploy.md)',
      );
      relation("cluster.publicEndpointCidrs", v["cluster.publicEndpointCidrs"].length === 0, 'empty when cluster.endpointAccess is "private" (there is no public endpoint)');
    }
  }
  // One access entry per principal (components/cluster.ts): the same role with and without its path is one principal.
  if (ok("cluster.adminPrincipalArns"))
    relation(
      "cluster.adminPrincipalArns",
      new Set(v["cluster.adminPrincipalArns"].map(accessEntryKey)).size === v["cluster.adminPrincipalArns"].length,
      "an array naming each IAM principal once (an ARN with a path and one without name the same role or user)",
    );
  if (ok("ingest.minReplicas", "ingest.maxReplicas"))
    relation("ingest.maxReplicas", v["ingest.maxReplicas"] >= v["ingest.minReplicas"], "an integer >= ingest.minReplicas");
  if (ok("processor.minReplicas", "processor.maxReplicas"))
    relation("processor.maxReplicas", v["processor.maxReplicas"] >= v["processor.minReplicas"], "an integer >= processor.minReplicas");
  if (ok("processor.maxReplicas", "kafka.eventsPartitions"))
    relation("processor.maxReplicas", v["processor.maxReplicas"] <= v["kafka.eventsPartitions"], "<= kafka.eventsPartitions (extra consumers would idle)");
  if (ok("ingest.maxEventDataBytes", "ingest.maxBodyBytes"))
    relation("ingest.maxEventDataBytes", v["ingest.maxEventDataBytes"] <= v["ingest.maxBodyBytes"], "<= ingest.maxBodyBytes");
  if (ok("aurora.minCapacity", "aurora.maxCapacity"))
    relation("aurora.maxCapacity", v["aurora.maxCapacity"] >= v["aurora.minCapacity"], "a multiple of 0.5 >= aurora.minCapacity");
  if (ok("aurora.minCapacity", "aurora.engineVersion") && v["aurora.minCapacity"] === 0) {
    const [major, minor] = v["aurora.engineVersion"].split(".").map(Number) as [number, number];
    relation("aurora.engineVersion", major > 16 || (major === 16 && minor >= 3), "16.3 or later when aurora.minCapacity is 0 (scale to zero)");
  }
  if (ok("kafka.volumeSizeGiB", "kafka.maxVolumeSizeGiB"))
    relation("kafka.maxVolumeSizeGiB", v["kafka.maxVolumeSizeGiB"] >= v["kafka.volumeSizeGiB"], "an integer >= kafka.volumeSizeGiB");
  if (ok("kafka.brokers", "network.availabilityZones"))
    relation("kafka.brokers", v["kafka.brokers"] % v["network.availabilityZones"] === 0, "a multiple of network.availabilityZones");
  if (ok("kafka.replicationFactor", "kafka.brokers"))
    relation("kafka.replicationFactor", v["kafka.replicationFactor"] <= v["kafka.brokers"], "<= kafka.brokers");
  if (ok("kafka.minInsyncReplicas", "kafka.replicationFactor"))
    relation("kafka.minInsyncReplicas", v["kafka.minInsyncReplicas"] < v["kafka.replicationFactor"], "< kafka.replicationFactor, so that a broker can be down");
  if (ok("kafka.eventsTopic", "kafka.deadLetterTopic"))
    relation("kafka.deadLetterTopic", v["kafka.deadLetterTopic"] !== v["kafka.eventsTopic"], "a topic other than kafka.eventsTopic");
  if (ok("api.jwtIssuer", "api.jwtAudiences"))
    relation("api.jwtAudiences", v["api.jwtIssuer"] === "" || v["api.jwtAudiences"].length > 0, "a non-empty array when api.jwtIssuer is set");
  // Stage limits above the account's throttle quota are not applied (components/edge/http-api.ts, checkHttpApiArgs).
  if (ok("api.throttleRateLimit", "api.accountRateLimit"))
    relation("api.throttleRateLimit", v["api.throttleRateLimit"] <= v["api.accountRateLimit"], "<= api.accountRateLimit, the account's API Gateway throttle quota in the region");
  if (ok("api.throttleBurstLimit", "api.accountBurstLimit"))
    relation("api.throttleBurstLimit", v["api.throttleBurstLimit"] <= v["api.accountBurstLimit"], "<= api.accountBurstLimit, the account's API Gateway burst quota in the region");
  if (ok("api.requestRateQuota", "api.accountRateLimit"))
    relation("api.requestRateQuota", v["api.requestRateQuota"] === 0 || v["api.requestRateQuota"] > v["api.accountRateLimit"], "0 or above api.accountRateLimit (Service Quotas only raises a quota)");
  if (ok("api.domainName", "api.hostedZoneId"))
    relation("api.hostedZoneId", v["api.domainName"] === "" || v["api.hostedZoneId"] !== "", "set when api.domainName is set");
  // An image is either built by `pulumi up` or named by its digest, never both: a digest beside a build would be
  // ignored without a word, and no digest without a build leaves nothing to deploy.
  for (const service of SERVICES) {
    const key = `images.${service}` as const;
    if (!ok("images.build", key)) continue;
    if (v["images.build"])
      relation(key, v[key] === "", "empty when images.build is true (pulumi up builds the image and deploys its digest)");
    else
      relation(
        key,
        v[key] !== "",
        'the digest of the image to deploy ("sha256:<64 hex digits>", from the images workflow\'s image-digests.json) when images.build is false; set images.build to true to build it in pulumi up instead',
      );
  }
  if (ok("delivery.githubRepository", "delivery.githubOidcProviderArn"))
    relation(
      "delivery.githubOidcProviderArn",
      v["delivery.githubOidcProviderArn"] === "" || v["delivery.githubRepository"] !== "",
      "empty when delivery.githubRepository is empty (no image push role uses it)",
    );
  if (ok("cluster.systemInstanceTypes", "cluster.systemArchitecture")) {
    // Graviton families carry a "g" after the generation digit (m7g, t4g, c8gd); everything else is x86_64.
    const arm = (t: string) => /^[a-z]+\d+[a-z]*g[a-z]*\./.test(t);
    const want = v["cluster.systemArchitecture"] === "arm64";
    relation(
      "cluster.systemInstanceTypes",
      v["cluster.systemInstanceTypes"].every((t) => arm(t) === want),
      `instance types of the ${v["cluster.systemArchitecture"]} architecture (cluster.systemArchitecture)`,
    );
  }
  if (ok("delivery.mode", "delivery.gitRepository"))
    relation("delivery.gitRepository", v["delivery.mode"] !== "argocd" || v["delivery.gitRepository"] !== "", 'an https URL when delivery.mode is "argocd" (the repository Argo CD syncs the workloads from)');
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    region: region as string,
    tags: { owner: v["tags.owner"], costCenter: v["tags.costCenter"] },
    logRetentionDays: v.logRetentionDays,
    network: {
      cidr: v["network.cidr"],
      availabilityZones: v["network.availabilityZones"],
      natGateways: v["network.natGateways"],
      flowLogs: v["network.flowLogs"],
      interfaceEndpoints: v["network.interfaceEndpoints"],
    },
    cluster: {
      kubernetesVersion: v["cluster.kubernetesVersion"],
      endpointAccess: v["cluster.endpointAccess"],
      publicEndpointCidrs: v["cluster.publicEndpointCidrs"],
      privateEndpointCidrs: v["cluster.privateEndpointCidrs"],
      adminPrincipalArns: v["cluster.adminPrincipalArns"],
      systemInstanceTypes: v["cluster.systemInstanceTypes"],
      systemArchitecture: v["cluster.systemArchitecture"],
      systemNodes: v["cluster.systemNodes"],
    },
    karpenter: {
      cpuLimit: v["karpenter.cpuLimit"],
      memoryLimitGiB: v["karpenter.memoryLimitGiB"],
      capacityTypes: v["karpenter.capacityTypes"],
      architectures: v["karpenter.architectures"],
      consolidateAfter: v["karpenter.consolidateAfter"],
      disruptionBudget: v["karpenter.disruptionBudget"],
    },
    ingest: {
      minReplicas: v["ingest.minReplicas"],
      maxReplicas: v["ingest.maxReplicas"],
      targetCpuUtilization: v["ingest.targetCpuUtilization"],
      maxBatchEvents: v["ingest.maxBatchEvents"],
      maxBodyBytes: v["ingest.maxBodyBytes"],
      maxEventDataBytes: v["ingest.maxEventDataBytes"],
    },
    processor: {
      minReplicas: v["processor.minReplicas"],
      maxReplicas: v["processor.maxReplicas"],
      lagThreshold: v["processor.lagThreshold"],
    },
    aurora: {
      engineVersion: v["aurora.engineVersion"],
      minCapacity: v["aurora.minCapacity"],
      maxCapacity: v["aurora.maxCapacity"],
      autoPauseSeconds: v["aurora.autoPauseSeconds"],
      readers: v["aurora.readers"],
      backupRetentionDays: v["aurora.backupRetentionDays"],
      deletionProtection: v["aurora.deletionProtection"],
      slowStatementMs: v["aurora.slowStatementMs"],
      databaseName: v["aurora.databaseName"],
    },
    cache: {
      engineVersion: v["cache.engineVersion"],
      nodeType: v["cache.nodeType"],
      replicas: v["cache.replicas"],
      snapshotRetentionDays: v["cache.snapshotRetentionDays"],
    },
    kafka: {
      version: v["kafka.version"],
      brokers: v["kafka.brokers"],
      instanceType: v["kafka.instanceType"],
      volumeSizeGiB: v["kafka.volumeSizeGiB"],
      maxVolumeSizeGiB: v["kafka.maxVolumeSizeGiB"],
      replicationFactor: v["kafka.replicationFactor"],
      minInsyncReplicas: v["kafka.minInsyncReplicas"],
      eventsTopic: v["kafka.eventsTopic"],
      eventsPartitions: v["kafka.eventsPartitions"],
      eventsRetentionHours: v["kafka.eventsRetentionHours"],
      deadLetterTopic: v["kafka.deadLetterTopic"],
      deadLetterPartitions: v["kafka.deadLetterPartitions"],
      deadLetterRetentionHours: v["kafka.deadLetterRetentionHours"],
      consumerGroup: v["kafka.consumerGroup"],
    },
    api: {
      throttleRateLimit: v["api.throttleRateLimit"],
      throttleBurstLimit: v["api.throttleBurstLimit"],
      accountRateLimit: v["api.accountRateLimit"],
      accountBurstLimit: v["api.accountBurstLimit"],
      requestRateQuota: v["api.requestRateQuota"],
      corsOrigins: v["api.corsOrigins"],
      jwtIssuer: v["api.jwtIssuer"],
      jwtAudiences: v["api.jwtAudiences"],
      domainName: v["api.domainName"],
      hostedZoneId: v["api.hostedZoneId"],
    },
    mesh: { highAvailability: v["mesh.highAvailability"], issuerValidityHours: v["mesh.issuerValidityHours"] },
    images: {
      build: v["images.build"],
      digests: { ingest: v["images.ingest"], processor: v["images.processor"] },
      githubRepository: v["delivery.githubRepository"],
      githubOidcProviderArn: v["delivery.githubOidcProviderArn"],
    },
    observability: {
      alertEmails: v["observability.alertEmails"],
      scrapeIntervalSeconds: v["observability.scrapeIntervalSeconds"],
      traceLatencyThresholdMs: v["observability.traceLatencyThresholdMs"],
      traceSamplePercent: v["observability.traceSamplePercent"],
    },
    delivery: {
      mode: v["delivery.mode"],
      gitRepository: v["delivery.gitRepository"],
      gitPath: v["delivery.gitPath"],
      gitRevision: v["delivery.gitRevision"],
      analysisPrometheusUrl: v["delivery.analysisPrometheusUrl"],
    },
  };
}
