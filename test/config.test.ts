// The stack configuration: Pulumi.yaml declares every key the program reads, the stack files hold only
// differences, and every kind of bad value is reported with its documented message, all at once.
import { ConfigError, FIELDS, loadConfig } from "../components/config";
import { configProblems as problems, configReader as reader } from "./loaded-config";
import { declaredConfig, runProgram, stackFileConfig, TEST_IMAGE_DIGESTS, TEST_REGION } from "./program";

const NO_PUBLIC_CIDRS =
  'eventstack:cluster.publicEndpointCidrs must be a non-empty array of IPv4 CIDRs when cluster.endpointAccess is "public-and-private": the networks `pulumi up` runs from (a workstation\'s or CI runner\'s public egress), the only ones the public Kubernetes API endpoint admits (got "[]")';

describe("Pulumi.yaml declares the program's configuration", () => {
  const declared = declaredConfig();

  test("every key the program reads is declared, with the same type, and nothing else is", () => {
    expect(Object.keys(declared).sort()).toEqual(Object.keys(FIELDS).sort());
    for (const [key, field] of Object.entries(FIELDS)) expect([key, declared[key]!.type]).toEqual([key, field.type]);
  });

  test("every key has a description and a default that the program accepts", () => {
    for (const [key, decl] of Object.entries(declared)) {
      expect([key, typeof decl.description]).toEqual([key, "string"]);
      expect([key, decl.default === undefined]).toEqual([key, false]);
    }
    // The defaults plus what only the deployer knows (the region, where `pulumi up` runs from, the images to deploy)
    // form a valid, production-grade configuration; without the latter they are refused, saying what to set.
    const defaults: Record<string, string> = { "aws:region": TEST_REGION };
    for (const [key, decl] of Object.entries(declared)) defaults[`eventstack:${key}`] = typeof decl.default === "string" ? decl.default : JSON.stringify(decl.default);
    expect(() => loadConfig((k) => defaults[k], {})).toThrow(NO_PUBLIC_CIDRS);
    defaults["eventstack:cluster.publicEndpointCidrs"] = JSON.stringify(["198.51.100.0/24"]);
    expect(() => loadConfig((k) => defaults[k], {})).toThrow("eventstack:images.ingest must be the digest of the image to deploy");
    for (const [service, digest] of Object.entries(TEST_IMAGE_DIGESTS)) defaults[`eventstack:images.${service}`] = digest;
    expect(loadConfig((k) => defaults[k], {}).aurora.readers).toBe(1);
  });

  test.each(["dev", "prod"])("Pulumi.%s.yaml sets only declared keys, each to a value other than its default", (stack) => {
    for (const [fullKey, value] of Object.entries(stackFileConfig(stack))) {
      const [namespace, key] = fullKey.split(":") as [string, string];
      expect([fullKey, namespace]).toEqual([fullKey, "eventstack"]);
      expect([fullKey, key in declared]).toEqual([fullKey, true]);
      expect([fullKey, JSON.stringify(value)]).not.toEqual([fullKey, JSON.stringify(declared[key]!.default)]);
    }
  });

  test("no stack file names a region, account or availability zone", () => {
    for (const stack of ["dev", "prod"]) {
      const text = JSON.stringify(stackFileConfig(stack));
      expect(text).not.toMatch(/aws:region|\b\d{12}\b|[a-z]{2}-[a-z]+-\d[a-f]\b/);
    }
  });
});

describe("dev and prod differ where their config says", () => {
  const dev = loadConfig(reader("dev"));
  const prod = loadConfig(reader("prod"));

  test("dev is small and cheap", () => {
    expect(dev.network.natGateways).toBe("single");
    expect(dev.network.interfaceEndpoints).toBe(false);
    expect(dev.aurora.minCapacity).toBe(0); // Aurora Serverless v2 pauses when idle
    expect(dev.aurora.readers).toBe(0);
    expect(dev.aurora.deletionProtection).toBe(false);
    expect(dev.cache.replicas).toBe(0);
    expect(dev.karpenter.capacityTypes).toEqual(["spot"]);
    expect(dev.mesh.highAvailability).toBe(false);
  });

  test("prod is multi-AZ and highly available", () => {
    expect(prod.network.natGateways).toBe("onePerAz");
    expect(prod.network.availabilityZones).toBe(3);
    expect(prod.aurora.readers).toBeGreaterThanOrEqual(1);
    expect(prod.aurora.backupRetentionDays).toBeGreaterThanOrEqual(7);
    expect(prod.aurora.deletionProtection).toBe(true);
    expect(prod.cache.replicas).toBeGreaterThanOrEqual(1);
    expect(prod.kafka.brokers).toBe(6);
    expect(prod.kafka.minInsyncReplicas).toBe(2);
    expect(prod.cluster.systemNodes).toBe(3);
    expect(prod.mesh.highAvailability).toBe(true);
  });
});

describe("the Kubernetes API endpoint is reachable from where `pulumi up` runs", () => {
  const cluster = (overrides: Record<string, unknown>) => loadConfig(reader("dev", overrides), {}).cluster;
  const PRIVATE = { "eventstack:cluster.endpointAccess": "private", "eventstack:cluster.publicEndpointCidrs": [] };

  test("by default both endpoints, the public one open to exactly the deployer's CIDRs", () => {
    const c = cluster({ "eventstack:cluster.publicEndpointCidrs": ["203.0.113.0/24", "198.51.100.7/32"] });
    expect([c.endpointAccess, c.publicEndpointCidrs, c.privateEndpointCidrs]).toEqual(["public-and-private", ["203.0.113.0/24", "198.51.100.7/32"], []]);
  });

  test("the default mode without CIDRs is refused, naming what the deployer must declare", () => {
    expect(problems({ "eventstack:cluster.publicEndpointCidrs": [] })).toEqual([NO_PUBLIC_CIDRS]);
  });

  test("private mode says what it requires of the deployer: a network inside or connected to the VPC", () => {
    expect(problems(PRIVATE)).toEqual([
      'eventstack:cluster.privateEndpointCidrs must be a non-empty array of IPv4 CIDRs when cluster.endpointAccess is "private": the networks inside the VPC or connected to it (a VPN, a CI runner in the VPC) that `pulumi up` runs from, which the cluster security group admits on 443; a new stack\'s VPC does not exist before its first `pulumi up`, so deploy it with "public-and-private" first (docs/deploy.md) (got "[]")',
    ]);
    expect(problems({ ...PRIVATE, "eventstack:cluster.publicEndpointCidrs": ["203.0.113.0/24"], "eventstack:cluster.privateEndpointCidrs": ["10.8.0.0/16"] })).toEqual([
      'eventstack:cluster.publicEndpointCidrs must be empty when cluster.endpointAccess is "private" (there is no public endpoint) (got "[\\"203.0.113.0/24\\"]")',
    ]);
    const c = cluster({ ...PRIVATE, "eventstack:cluster.privateEndpointCidrs": ["10.8.0.0/16"] });
    expect([c.endpointAccess, c.publicEndpointCidrs, c.privateEndpointCidrs]).toEqual(["private", [], ["10.8.0.0/16"]]);
  });

  test.each([
    ["eventstack:cluster.publicEndpointCidrs", "0.0.0.0/0", "would open the Kubernetes API endpoint to the whole internet: list the networks `pulumi up` runs from"],
    ["eventstack:cluster.publicEndpointCidrs", "::/0", "would open the Kubernetes API endpoint to the whole internet: list the networks `pulumi up` runs from"],
    ["eventstack:cluster.privateEndpointCidrs", "0.0.0.0/0", "would admit every network connected to the VPC to the Kubernetes API: list the networks `pulumi up` runs from"],
    ["eventstack:cluster.privateEndpointCidrs", "::/0", "would admit every network connected to the VPC to the Kubernetes API: list the networks `pulumi up` runs from"],
  ])("%s refuses %s, saying why", (key, everything, why) => {
    const value = ["203.0.113.0/24", everything];
    expect(problems({ [key]: value })).toEqual([`${key} must be an array of IPv4 CIDRs without 0.0.0.0/0 or ::/0, which ${why} (got ${JSON.stringify(JSON.stringify(value))})`]);
  });

  test("an unknown mode is named with the two there are", () => {
    expect(problems({ "eventstack:cluster.endpointAccess": "public" })).toEqual(['eventstack:cluster.endpointAccess must be one of "public-and-private", "private" (got "public")']);
  });
});

describe("invalid configuration gives one error naming every bad key", () => {
  test("a non-integer where an integer bounded by another key is expected", () => {
    expect(problems({ "eventstack:ingest.maxReplicas": "abc" })).toEqual(['eventstack:ingest.maxReplicas must be an integer from 1 to 1000 (got "abc")']);
  });

  test("a relation between two keys", () => {
    expect(problems({ "eventstack:ingest.minReplicas": 3, "eventstack:ingest.maxReplicas": 2 })).toEqual([
      'eventstack:ingest.maxReplicas must be an integer >= ingest.minReplicas (got "2")',
    ]);
  });

  test("the removed system node bounds are refused with what replaced them, not ignored", () => {
    expect(problems({ "eventstack:cluster.maxNodes": 4 })).toEqual([
      'eventstack:cluster.maxNodes was removed: nothing scales the system node group; set its size with cluster.systemNodes (got "4")',
    ]);
    expect(problems({ "eventstack:cluster.minNodes": 2 })).toEqual([
      'eventstack:cluster.minNodes was removed: the system node group has a fixed size; set it with cluster.systemNodes (got "2")',
    ]);
  });

  test("a highly available mesh needs three system nodes: two replicas on separate nodes and one node to drain into", () => {
    expect(problems({ "eventstack:mesh.highAvailability": true, "eventstack:cluster.systemNodes": 2 })).toEqual([
      'eventstack:cluster.systemNodes must be at least 3 when mesh.highAvailability is true (Linkerd\'s replicas need separate nodes and one free to drain into) (got "2")',
    ]);
    expect(loadConfig(reader("dev", { "eventstack:mesh.highAvailability": true, "eventstack:cluster.systemNodes": 3 }), {}).cluster.systemNodes).toBe(3);
  });

  test("the system nodes must hold the system pods with a surge pod per release (the old dev node, one t4g.medium, did not)", () => {
    expect(problems({ "eventstack:cluster.systemInstanceTypes": ["t4g.medium"] })).toEqual([
      "eventstack:cluster.systemInstanceTypes: 1 × t4g.medium cannot hold the system pods with a surge pod per release: 28 pods > 17 (max pods 17 per node), 2335m CPU > 1930m allocatable, 3282Mi memory > 3267Mi allocatable",
    ]);
    expect(problems({ "eventstack:cluster.systemInstanceTypes": ["t4g.nano"] })).toEqual([
      expect.stringMatching(/^eventstack:cluster\.systemInstanceTypes: t4g\.nano has no row in components\/system-pods\.ts INSTANCE_TYPES \(t4g\.medium, /),
    ]);
  });

  test.each([
    ["eventstack:network.availabilityZones", "4", 'eventstack:network.availabilityZones must be an integer from 2 to 3 (got "4")'],
    ["eventstack:network.availabilityZones", "2.5", 'eventstack:network.availabilityZones must be an integer from 2 to 3 (got "2.5")'],
    ["eventstack:network.natGateways", "two", 'eventstack:network.natGateways must be one of "single", "onePerAz" (got "two")'],
    ["eventstack:network.flowLogs", "yes", 'eventstack:network.flowLogs must be true or false (got "yes")'],
    ["eventstack:network.cidr", "10.0.0.0/8", 'eventstack:network.cidr must be an IPv4 CIDR with a prefix from /16 to /20 (got "10.0.0.0/8")'],
    ["eventstack:network.cidr", "10.0.0.1/16", 'eventstack:network.cidr must be an IPv4 CIDR with a prefix from /16 to /20 with no host bits set (got "10.0.0.1/16")'],
    ["eventstack:cluster.publicEndpointCidrs", "not json", 'eventstack:cluster.publicEndpointCidrs must be an array of IPv4 CIDRs (got "not json")'],
    ["eventstack:cluster.publicEndpointCidrs", ["0.0.0.0/33"], 'eventstack:cluster.publicEndpointCidrs must be an array of IPv4 CIDRs (got "[\\"0.0.0.0/33\\"]")'],
    ["eventstack:cluster.adminPrincipalArns", ["admin"], 'eventstack:cluster.adminPrincipalArns must be an array of IAM role or user ARNs (got "[\\"admin\\"]")'],
    ["eventstack:karpenter.capacityTypes", [], 'eventstack:karpenter.capacityTypes must be a non-empty array of "spot" or "on-demand" (got "[]")'],
    ["eventstack:karpenter.architectures", ["arm64", "arm64"], 'eventstack:karpenter.architectures must be a non-empty array of "arm64" or "amd64" without duplicates (got "[\\"arm64\\",\\"arm64\\"]")'],
    ["eventstack:karpenter.consolidateAfter", "soon", 'eventstack:karpenter.consolidateAfter must be a duration such as 30s, 5m or 1h (got "soon")'],
    ["eventstack:aurora.minCapacity", "0.3", 'eventstack:aurora.minCapacity must be a multiple of 0.5 from 0 to 256 (ACUs) (got "0.3")'],
    ["eventstack:aurora.engineVersion", "15.4", 'eventstack:aurora.engineVersion must be an Aurora PostgreSQL version 16 or later, such as "16.8" (got "15.4")'],
    ["eventstack:logRetentionDays", "10", `eventstack:logRetentionDays must be one of CloudWatch's retention periods (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653) (got "10")`],
    ["eventstack:api.jwtIssuer", "http://issuer", 'eventstack:api.jwtIssuer must be an https URL (got "http://issuer")'],
    ["eventstack:ingest.maxEventDataBytes", "1048576", 'eventstack:ingest.maxEventDataBytes must be an integer from 1 to 900000 (its Kafka record, headers included, must stay under 1,000,000 bytes) (got "1048576")'],
    ["eventstack:cluster.kubernetesVersion", "1.31", 'eventstack:cluster.kubernetesVersion must be a Kubernetes minor version with pinned add-ons in components/versions.ts ("1.35", "1.34") (got "1.31")'],
    ["eventstack:mesh.issuerValidityHours", "24", 'eventstack:mesh.issuerValidityHours must be an integer from 25 to 87599 (got "24")'],
    ["eventstack:mesh.issuerValidityHours", "87600", 'eventstack:mesh.issuerValidityHours must be an integer from 25 to 87599 (got "87600")'],
    ["eventstack:observability.traceSamplePercent", "101", 'eventstack:observability.traceSamplePercent must be an integer from 0 to 100 (got "101")'],
    ["eventstack:observability.scrapeIntervalSeconds", "5", 'eventstack:observability.scrapeIntervalSeconds must be an integer from 10 to 300 (got "5")'],
    ["eventstack:observability.traceLatencyThresholdMs", "0", 'eventstack:observability.traceLatencyThresholdMs must be an integer from 1 to 60000 (got "0")'],
    ["eventstack:observability.alertEmails", ["oncall"], 'eventstack:observability.alertEmails must be an array of email addresses (got "[\\"oncall\\"]")'],
    ["eventstack:kafka.eventsTopic", "events topic", 'eventstack:kafka.eventsTopic must be a Kafka topic or group name ([a-zA-Z0-9._-], 1 to 249 characters) (got "events topic")'],
  ])("%s = %j", (key, value, message) => {
    expect(problems({ [key]: value })).toEqual([message]);
  });

  test.each([
    [{ "eventstack:processor.maxReplicas": 7 }, 'eventstack:processor.maxReplicas must be <= kafka.eventsPartitions (extra consumers would idle) (got "7")'],
    [{ "eventstack:aurora.maxCapacity": "0.5" }, 'eventstack:aurora.maxCapacity must be a multiple of 0.5 from 1 to 256 (ACUs) (got "0.5")'],
    [{ "eventstack:aurora.engineVersion": "16.2" }, 'eventstack:aurora.engineVersion must be 16.3 or later when aurora.minCapacity is 0 (scale to zero) (got "16.2")'],
    [{ "eventstack:kafka.brokers": 4 }, 'eventstack:kafka.brokers must be a multiple of network.availabilityZones (got "4")'],
    [{ "eventstack:kafka.minInsyncReplicas": 3 }, 'eventstack:kafka.minInsyncReplicas must be < kafka.replicationFactor, so that a broker can be down (got "3")'],
    [{ "eventstack:kafka.deadLetterTopic": "events" }, 'eventstack:kafka.deadLetterTopic must be a topic other than kafka.eventsTopic (got "events")'],
    [{ "eventstack:api.jwtIssuer": "https://id.example.com/" }, 'eventstack:api.jwtAudiences must be a non-empty array when api.jwtIssuer is set (got "[]")'],
    [{ "eventstack:api.domainName": "api.example.com" }, 'eventstack:api.hostedZoneId must be set when api.domainName is set (got "")'],
    [{ "eventstack:api.throttleRateLimit": 20000 }, `eventstack:api.throttleRateLimit must be <= api.accountRateLimit, the account's API Gateway throttle quota in the region (got "20000")`],
    [{ "eventstack:api.throttleBurstLimit": 10000 }, `eventstack:api.throttleBurstLimit must be <= api.accountBurstLimit, the account's API Gateway burst quota in the region (got "10000")`],
    [{ "eventstack:api.requestRateQuota": 10000 }, 'eventstack:api.requestRateQuota must be 0 or above api.accountRateLimit (Service Quotas only raises a quota) (got "10000")'],
    [
      { "eventstack:cluster.adminPrincipalArns": ["arn:aws:iam::123456789012:role/ops/admin", "arn:aws:iam::123456789012:role/admin"] },
      'eventstack:cluster.adminPrincipalArns must be an array naming each IAM principal once (an ARN with a path and one without name the same role or user) (got "[\\"arn:aws:iam::123456789012:role/ops/admin\\",\\"arn:aws:iam::123456789012:role/admin\\"]")',
    ],
    // m7i.xlarge: dev's one system node must have 4 vCPUs since the observability pods (one m7i.large is refused for that too).
    [{ "eventstack:cluster.systemInstanceTypes": ["m7i.xlarge"] }, 'eventstack:cluster.systemInstanceTypes must be instance types of the arm64 architecture (cluster.systemArchitecture) (got "[\\"m7i.xlarge\\"]")'],
  ])("relation %j", (overrides, message) => {
    expect(problems(overrides)).toEqual([message]);
  });

  test("a missing region and a missing key are named", () => {
    expect(problems({ "aws:region": undefined, "eventstack:tags.owner": undefined })).toEqual([
      "eventstack:tags.owner is required; its default is declared in Pulumi.yaml, which the Pulumi CLI applies (got nothing)",
      "aws:region must be an AWS region such as eu-west-1, from `pulumi config set aws:region <region>` or AWS_REGION in the environment (got nothing)",
    ]);
  });

  test("without aws:region the region comes from AWS_REGION, then AWS_DEFAULT_REGION; aws:region wins; a bad one is named", () => {
    const region = (overrides: Record<string, unknown>, env: NodeJS.ProcessEnv) => loadConfig(reader("dev", overrides), env).region;
    expect(region({ "aws:region": undefined }, { AWS_REGION: "eu-central-1", AWS_DEFAULT_REGION: "us-east-2" })).toBe("eu-central-1");
    expect(region({ "aws:region": undefined }, { AWS_DEFAULT_REGION: "us-east-2" })).toBe("us-east-2");
    expect(region({ "aws:region": "ap-southeast-2" }, { AWS_REGION: "eu-central-1" })).toBe("ap-southeast-2");
    expect(problems({ "aws:region": undefined }, { AWS_REGION: "europe" })).toEqual([
      'aws:region must be an AWS region such as eu-west-1, from `pulumi config set aws:region <region>` or AWS_REGION in the environment (got "europe")',
    ]);
  });

  test("mesh.issuerValidityHours takes its bounds, which come from the Linkerd component's own limits", () => {
    for (const hours of [25, 87599]) expect(loadConfig(reader("dev", { "eventstack:mesh.issuerValidityHours": hours }), {}).mesh.issuerValidityHours).toBe(hours);
  });

  test("several bad keys are reported together in one message", () => {
    let error: unknown;
    try {
      loadConfig(reader("dev", { "eventstack:cluster.systemNodes": "abc", "eventstack:network.natGateways": "two" }));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      [
        "Invalid stack configuration (2 problems):",
        '  - eventstack:network.natGateways must be one of "single", "onePerAz" (got "two")',
        '  - eventstack:cluster.systemNodes must be an integer from 1 to 100 (got "abc")',
      ].join("\n"),
    );
  });

  test("the program validates before it declares any resource", async () => {
    await expect(runProgram("prod", { "eventstack:network.natGateways": "two" })).rejects.toThrow(
      'Invalid stack configuration (1 problem):\n  - eventstack:network.natGateways must be one of "single", "onePerAz" (got "two")',
    );
  });
});
