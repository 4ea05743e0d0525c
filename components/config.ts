// Reads and validates the whole stack configuration before any resource is declared.
//
// Every key is declared once, in components/config/schema.ts: its type, default, description and parser. The
// Pulumi CLI applies the defaults (from Pulumi.yaml's `config:` block, which is generated from that schema) before the
// program runs, so a key that is absent here means Pulumi.yaml is stale or the program runs outside the CLI. This
// module parses each key, checks the relations between keys, and reports every problem at once:
//
//   Invalid stack configuration (2 problems):
//     - eventstack:cluster.systemNodes must be an integer from 1 to 100 (got "abc")
//     - eventstack:network.natGateways must be one of "single", "onePerAz" (got "two")
//
// Behaviour follows these values only; nothing in the program asks which stack it is. Validation loads no provider
// (only @pulumi/pulumi, to read the engine's config): what it needs of the components is in components/defaults.
import * as pulumi from "@pulumi/pulumi";
import { Invalid } from "./config/parsers";
import { FIELDS, type KeyName, REMOVED_KEYS, SERVICES, type SchemaValues } from "./config/schema";
import { accessEntryKey } from "./defaults/cluster";
import { githubCloneUrl } from "./defaults/github";
import { LINKERD_DEFAULTS } from "./defaults/linkerd";
import { systemSizingProblem } from "./system-pods";

export {
  ARCHITECTURES,
  type Architecture,
  type ConfigType,
  DELIVERY_MODES,
  type DeliveryMode,
  ENDPOINT_ACCESS,
  type EndpointAccess,
  FIELDS,
  type KeyName,
  LOG_RETENTION_DAYS,
  REMOVED_KEYS,
  SCHEMA,
  SERVICES,
  type Service,
} from "./config/schema";

export const PROJECT = "eventstack";

/** The loaded configuration: the values of the schema's keys in its shape, and what follows from them. */
export type StackConfig = SchemaValues & {
  /** The AWS region: the provider's own `aws:region` key, else AWS_REGION / AWS_DEFAULT_REGION. */
  region: string;
  delivery: {
    /** The https URL Argo CD clones: that of delivery.githubRepository (githubCloneUrl); "" without it. */
    gitRepository: string;
  };
};

/** Which images the program deploys, and who may push them (components/images.ts, docs/delivery.md#images). */
export type ImagesConfig = StackConfig["images"];

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

/** The reader a real run uses: the engine's config for this project. */
export function pulumiReader(): ConfigReader {
  return (fullKey) => {
    const [namespace, ...rest] = fullKey.split(":");
    return new pulumi.Config(namespace).get(rest.join(":"));
  };
}

const show = (raw: string) => JSON.stringify(raw);

/** Sets `value` at `path` of `target`, creating the groups on the way. */
function setAt(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const name of path.slice(0, -1)) node = (node[name] ??= {}) as Record<string, unknown>;
  node[path[path.length - 1]!] = value;
}

/**
 * Reads every key, validates each and the relations between them, and returns the typed config.
 * Throws one ConfigError listing every problem.
 */
export function loadConfig(read: ConfigReader = pulumiReader(), env: NodeJS.ProcessEnv = process.env): StackConfig {
  const readEnv = (name: string) => (env[name] === "" ? undefined : env[name]);
  const problems: string[] = [];
  // The values in the schema's shape; a relation reads only keys that parsed (`ok`).
  const c = {} as SchemaValues;
  const parsed = new Set<KeyName>();
  const raw = {} as Record<KeyName, string | undefined>;
  for (const field of Object.values(FIELDS)) {
    const value = read(`${PROJECT}:${field.name}`);
    raw[field.name] = value;
    if (value === undefined) {
      problems.push(`${PROJECT}:${field.name} is required; its default is declared in Pulumi.yaml, which the Pulumi CLI applies (got nothing)`);
      continue;
    }
    const result = field.parse(value);
    if (result instanceof Invalid) problems.push(`${PROJECT}:${field.name} must be ${result.expected} (got ${show(value)})`);
    else {
      setAt(c, field.path, result);
      parsed.add(field.name);
    }
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
  const ok = (...keys: KeyName[]) => keys.every((k) => parsed.has(k));
  const relation = (key: KeyName, holds: boolean, expected: string) => {
    if (!holds) problems.push(`${PROJECT}:${key} must be ${expected} (got ${show(raw[key] ?? "")})`);
  };
  if (ok("cluster.systemNodes", "mesh.highAvailability"))
    relation(
      "cluster.systemNodes",
      !c.mesh.highAvailability || c.cluster.systemNodes >= LINKERD_DEFAULTS.haMinimumSystemNodes,
      `at least ${LINKERD_DEFAULTS.haMinimumSystemNodes} when mesh.highAvailability is true (Linkerd's replicas need separate nodes and one free to drain into)`,
    );
  if (ok("cluster.systemNodes", "cluster.systemInstanceTypes", "mesh.highAvailability", "delivery.mode"))
    // Argo CD runs on the system nodes too in argocd mode.
    for (const type of c.cluster.systemInstanceTypes) {
      const problem = systemSizingProblem(type, { systemNodes: c.cluster.systemNodes, meshHighAvailability: c.mesh.highAvailability, argocd: c.delivery.mode === "argocd" });
      if (problem) problems.push(`${PROJECT}:cluster.systemInstanceTypes: ${problem}`);
    }
  // `pulumi up` runs its Kubernetes and Helm steps from wherever it is started, outside the VPC it creates, so
  // the deployer says where that is: a public endpoint open to those CIDRs, or a private one it already reaches.
  if (ok("cluster.endpointAccess", "cluster.publicEndpointCidrs", "cluster.privateEndpointCidrs")) {
    if (c.cluster.endpointAccess === "public-and-private")
      relation(
        "cluster.publicEndpointCidrs",
        c.cluster.publicEndpointCidrs.length > 0,
        'a non-empty array of IPv4 CIDRs when cluster.endpointAccess is "public-and-private": the networks `pulumi up` runs from (a workstation\'s or CI runner\'s public egress), the only ones the public Kubernetes API endpoint admits',
      );
    else {
      relation(
        "cluster.privateEndpointCidrs",
        c.cluster.privateEndpointCidrs.length > 0,
        'a non-empty array of IPv4 CIDRs when cluster.endpointAccess is "private": the networks inside the VPC or connected to it (a VPN, a CI runner in the VPC) that `pulumi up` runs from, which the cluster security group admits on 443; a new stack\'s VPC does not exist before its first `pulumi up`, so deploy it with "public-and-private" first (docs/deploy.md)',
      );
      relation("cluster.publicEndpointCidrs", c.cluster.publicEndpointCidrs.length === 0, 'empty when cluster.endpointAccess is "private" (there is no public endpoint)');
    }
  }
  // One access entry per principal (components/cluster.ts): the same role with and without its path is one principal.
  if (ok("cluster.adminPrincipalArns"))
    relation(
      "cluster.adminPrincipalArns",
      new Set(c.cluster.adminPrincipalArns.map(accessEntryKey)).size === c.cluster.adminPrincipalArns.length,
      "an array naming each IAM principal once (an ARN with a path and one without name the same role or user)",
    );
  if (ok("ingest.minReplicas", "ingest.maxReplicas"))
    relation("ingest.maxReplicas", c.ingest.maxReplicas >= c.ingest.minReplicas, "an integer >= ingest.minReplicas");
  if (ok("processor.minReplicas", "processor.maxReplicas"))
    relation("processor.maxReplicas", c.processor.maxReplicas >= c.processor.minReplicas, "an integer >= processor.minReplicas");
  if (ok("processor.maxReplicas", "kafka.eventsPartitions"))
    relation("processor.maxReplicas", c.processor.maxReplicas <= c.kafka.eventsPartitions, "<= kafka.eventsPartitions (extra consumers would idle)");
  if (ok("ingest.maxEventDataBytes", "ingest.maxBodyBytes"))
    relation("ingest.maxEventDataBytes", c.ingest.maxEventDataBytes <= c.ingest.maxBodyBytes, "<= ingest.maxBodyBytes");
  if (ok("aurora.minCapacity", "aurora.maxCapacity"))
    relation("aurora.maxCapacity", c.aurora.maxCapacity >= c.aurora.minCapacity, "a multiple of 0.5 >= aurora.minCapacity");
  if (ok("aurora.minCapacity", "aurora.engineVersion") && c.aurora.minCapacity === 0) {
    const [major, minor] = c.aurora.engineVersion.split(".").map(Number) as [number, number];
    relation("aurora.engineVersion", major > 16 || (major === 16 && minor >= 3), "16.3 or later when aurora.minCapacity is 0 (scale to zero)");
  }
  if (ok("kafka.volumeSizeGiB", "kafka.maxVolumeSizeGiB"))
    relation("kafka.maxVolumeSizeGiB", c.kafka.maxVolumeSizeGiB >= c.kafka.volumeSizeGiB, "an integer >= kafka.volumeSizeGiB");
  if (ok("kafka.brokers", "network.availabilityZones"))
    relation("kafka.brokers", c.kafka.brokers % c.network.availabilityZones === 0, "a multiple of network.availabilityZones");
  if (ok("kafka.replicationFactor", "kafka.brokers"))
    relation("kafka.replicationFactor", c.kafka.replicationFactor <= c.kafka.brokers, "<= kafka.brokers");
  if (ok("kafka.minInsyncReplicas", "kafka.replicationFactor"))
    relation("kafka.minInsyncReplicas", c.kafka.minInsyncReplicas < c.kafka.replicationFactor, "< kafka.replicationFactor, so that a broker can be down");
  if (ok("kafka.eventsTopic", "kafka.deadLetterTopic"))
    relation("kafka.deadLetterTopic", c.kafka.deadLetterTopic !== c.kafka.eventsTopic, "a topic other than kafka.eventsTopic");
  if (ok("api.jwtIssuer", "api.jwtAudiences"))
    relation("api.jwtAudiences", c.api.jwtIssuer === "" || c.api.jwtAudiences.length > 0, "a non-empty array when api.jwtIssuer is set");
  // Stage limits above the account's throttle quota are not applied (components/edge/http-api.ts, checkHttpApiArgs).
  if (ok("api.throttleRateLimit", "api.accountRateLimit"))
    relation("api.throttleRateLimit", c.api.throttleRateLimit <= c.api.accountRateLimit, "<= api.accountRateLimit, the account's API Gateway throttle quota in the region");
  if (ok("api.throttleBurstLimit", "api.accountBurstLimit"))
    relation("api.throttleBurstLimit", c.api.throttleBurstLimit <= c.api.accountBurstLimit, "<= api.accountBurstLimit, the account's API Gateway burst quota in the region");
  if (ok("api.requestRateQuota", "api.accountRateLimit"))
    relation("api.requestRateQuota", c.api.requestRateQuota === 0 || c.api.requestRateQuota > c.api.accountRateLimit, "0 or above api.accountRateLimit (Service Quotas only raises a quota)");
  if (ok("api.domainName", "api.hostedZoneId"))
    relation("api.hostedZoneId", c.api.domainName === "" || c.api.hostedZoneId !== "", "set when api.domainName is set");
  // An image is either built by `pulumi up` or named by its digest, never both: a digest beside a build would be
  // ignored without a word, and no digest without a build leaves nothing to deploy.
  for (const service of SERVICES) {
    const key = `images.${service}` as const;
    if (!ok("images.build", key)) continue;
    if (c.images.build)
      relation(key, c.images.digests[service] === "", "empty when images.build is true (pulumi up builds the image and deploys its digest)");
    else
      relation(
        key,
        c.images.digests[service] !== "",
        'the digest of the image to deploy ("sha256:<64 hex digits>", from the images workflow\'s image-digests.json) when images.build is false; set images.build to true to build it in pulumi up instead',
      );
  }
  if (ok("delivery.githubRepository", "delivery.githubOidcProviderArn"))
    relation(
      "delivery.githubOidcProviderArn",
      c.images.githubOidcProviderArn === "" || c.images.githubRepository !== "",
      "empty when delivery.githubRepository is empty (no image push role uses it)",
    );
  if (ok("cluster.systemInstanceTypes", "cluster.systemArchitecture")) {
    // Graviton families carry a "g" after the generation digit (m7g, t4g, c8gd); everything else is x86_64.
    const arm = (t: string) => /^[a-z]+\d+[a-z]*g[a-z]*\./.test(t);
    const want = c.cluster.systemArchitecture === "arm64";
    relation(
      "cluster.systemInstanceTypes",
      c.cluster.systemInstanceTypes.every((t) => arm(t) === want),
      `instance types of the ${c.cluster.systemArchitecture} architecture (cluster.systemArchitecture)`,
    );
  }
  if (ok("delivery.mode", "delivery.githubRepository"))
    relation(
      "delivery.githubRepository",
      c.delivery.mode !== "argocd" || c.images.githubRepository !== "",
      'set when delivery.mode is "argocd": the repository Argo CD syncs the workloads from (https://github.com/<owner>/<name>.git), where the deploy workflow commits them',
    );
  if (problems.length > 0) throw new ConfigError(problems);

  return { ...c, region: region as string, delivery: { ...c.delivery, gitRepository: c.images.githubRepository === "" ? "" : githubCloneUrl(c.images.githubRepository) } };
}
