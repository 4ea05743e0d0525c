// Two stacks, one account: dev and prod evaluated as if deployed into the same account and region must not claim
// one physical name, and a stack destroyed and created again must not collide with names AWS keeps after deletion.
//
// Every naming input (a top-level input whose key ends in name, Name, namePrefix, identifier, Identifier, Id or Code,
// or is bucket, bucketPrefix or alias) of every resource the program declares, with the stack files or with every
// optional resource on, must be known here: as a physical name in the account and region (with what AWS does with it
// after deletion), as a name unique only inside another resource, as a name that need not be unique, or as a
// reference to another resource. A new resource type or naming input fails the first test until it is added.
//
// Each stack is evaluated twice, as two deployments (RecordingMocks' `instance`): random results, names generated
// from a `namePrefix` and Pulumi's auto-names differ between deployments, as they do in AWS.
//
// Not covered: the children of remote components (the awsx Vpc's and the @pulumi/eks Cluster's), which mocks do not
// see (all auto-named), and AWS resources that controllers create from inside the cluster (none named by the program).
import type { RecordedResource } from "./mocks";
import { runProgramInstance } from "./program";

/** What AWS does with a physical name once its resource is deleted. Sources verified 2026-12-05. */
type Retention =
  /** The name is free once the deletion completes (the provider waits for it). */
  | { kind: "freed" }
  /** AWS keeps the name after the deletion: every deployment must use its own. */
  | { kind: "kept"; source: string }
  /** AWS holds the name for a short time; safe because the resource is created only after, and deleted before, `after`. */
  | { kind: "held"; source: string; after: string };

interface TypeRule {
  /** Physical names unique per account and region. */
  names?: Record<string, Retention>;
  /** Names unique only inside another resource: the key and that resource. */
  within?: Record<string, string>;
  /** Names AWS does not require to be unique at all, and why. */
  notUnique?: Record<string, string>;
  /** Inputs that refer to another resource by its name, id or ARN. */
  refs?: string[];
}

const FREED: Retention = { kind: "freed" };
const KEPT_SECRET: Retention = { kind: "kept", source: "Secrets Manager DeleteSecret: the name stays taken through a 7-30 day recovery window" };

const RULES: Record<string, TypeRule> = {
  // "Deletes the specified log group and permanently deletes all the archived log events" (CloudWatch Logs API, DeleteLogGroup).
  "aws:cloudwatch/logGroup:LogGroup": { names: { name: FREED }, refs: ["kmsKeyId"] },
  // A workspace's alias is a label: AMP allows any number of workspaces with one alias (AMP API, CreateWorkspace).
  "aws:amp/workspace:Workspace": { notUnique: { alias: "AMP workspace aliases are labels, not unique names" } },
  "aws:amp/ruleGroupNamespace:RuleGroupNamespace": { within: { name: "its workspace" }, refs: ["workspaceId"] },
  "aws:amp/alertManagerDefinition:AlertManagerDefinition": { refs: ["workspaceId"] },
  // DeleteTopic frees the name at once; DeleteAlarms likewise (no recovery window in either API).
  "aws:sns/topic:Topic": { names: { name: FREED }, refs: ["kmsMasterKeyId"] },
  "aws:cloudwatch/metricAlarm:MetricAlarm": { names: { name: FREED }, notUnique: { metricName: "the name of a CloudWatch metric the alarm reads, not a resource" } },
  "aws:cloudwatch/eventTarget:EventTarget": { within: { targetId: "its rule" } },
  "aws:ecr/repository:Repository": { names: { name: FREED } },
  // "If you delete an alias by mistake, you can create a new alias with the same name" (KMS developer guide, alias-delete).
  "aws:kms/alias:Alias": { names: { name: FREED }, refs: ["targetKeyId"] },
  "aws:secretsmanager/secret:Secret": {
    // "Secrets Manager attaches a DeletionDate ... At the end of the recovery window, Secrets Manager deletes the
    // secret permanently" (Secrets Manager API, DeleteSecret: a recovery window of 7 to 30 days).
    names: { name: KEPT_SECRET, namePrefix: KEPT_SECRET },
    refs: ["kmsKeyId"],
  },
  "aws:secretsmanager/secretVersion:SecretVersion": { refs: ["secretId"] },
  "aws:sqs/queue:Queue": {
    names: {
      name: {
        kind: "held",
        source: "SQS DeleteQueue: you must wait at least 60 seconds before creating a queue with the same name",
        // Named from the EKS cluster's name output: created after the cluster, deleted before it, minutes apart.
        after: "eks:index:Cluster",
      },
    },
  },
  "aws:iam/rolePolicy:RolePolicy": { within: { name: "its role" } },
  "aws:rds/cluster:Cluster": {
    names: {
      clusterIdentifier: FREED,
      // "Manual DB cluster snapshots of the specified DB cluster are not deleted" (RDS API, DeleteDBCluster).
      finalSnapshotIdentifier: { kind: "kept", source: "RDS DeleteDBCluster: the final snapshot outlives its cluster" },
    },
    within: { databaseName: "its cluster", masterUsername: "its cluster" },
    refs: ["dbSubnetGroupName", "dbClusterParameterGroupName", "kmsKeyId", "masterUserSecretKmsKeyId"],
  },
  "aws:rds/clusterInstance:ClusterInstance": {
    names: { identifier: FREED },
    refs: ["clusterIdentifier", "dbSubnetGroupName", "performanceInsightsKmsKeyId"],
  },
  "aws:elasticache/replicationGroup:ReplicationGroup": { names: { replicationGroupId: FREED }, refs: ["kmsKeyId", "subnetGroupName"] },
  "aws:elasticache/subnetGroup:SubnetGroup": { names: { name: FREED } },
  // User ids are unique per account and region; user names are not ("default" is in every user group). The provider
  // waits until a deleted user has left the "deleting" state (waitUserDeleted), so its id is free again.
  "aws:elasticache/user:User": { names: { userId: FREED }, within: { userName: "the user groups it joins" } },
  "aws:elasticache/userGroup:UserGroup": { names: { userGroupId: FREED } },
  "aws:msk/cluster:Cluster": { names: { clusterName: FREED } },
  // The provider waits until a deleted configuration has left the DELETING state (waitConfigurationDeleted).
  "aws:msk/configuration:Configuration": { names: { name: FREED } },
  "aws:msk/topic:Topic": { within: { name: "its MSK cluster" } },
  "aws:appautoscaling/target:Target": { refs: ["resourceId"] },
  "aws:appautoscaling/policy:Policy": { refs: ["resourceId"] },
  "aws:ec2/securityGroup:SecurityGroup": { refs: ["vpcId"] },
  "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": { refs: ["securityGroupId", "referencedSecurityGroupId"] },
  "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": { refs: ["securityGroupId", "referencedSecurityGroupId"] },
  "aws:ec2/flowLog:FlowLog": { refs: ["vpcId"] },
  "aws:ec2/vpcEndpoint:VpcEndpoint": { refs: ["vpcId", "serviceName"] },
  "aws:ec2/subnetCidrReservation:SubnetCidrReservation": { refs: ["subnetId"] },
  "aws:ec2/tag:Tag": { refs: ["resourceId"] },
  "aws:eks/addon:Addon": { within: { addonName: "its EKS cluster" }, refs: ["clusterName"] },
  "aws:eks/accessEntry:AccessEntry": { refs: ["clusterName"] },
  "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": { refs: ["clusterName"] },
  "aws:eks/nodeGroup:NodeGroup": { refs: ["clusterName"] },
  "aws:eks/podIdentityAssociation:PodIdentityAssociation": { refs: ["clusterName"] },
  "aws:lb/targetGroup:TargetGroup": { refs: ["vpcId"] },
  "aws:apigatewayv2/stage:Stage": { within: { name: "its API" }, refs: ["apiId"] },
  "aws:apigatewayv2/integration:Integration": { refs: ["apiId", "connectionId"] },
  "aws:apigatewayv2/route:Route": { refs: ["apiId", "authorizerId"] },
  "aws:apigatewayv2/authorizer:Authorizer": { refs: ["apiId"] },
  // A custom domain name is the API's public name: one per account and region; it comes from api.domainName.
  "aws:apigatewayv2/domainName:DomainName": { names: { domainName: FREED } },
  "aws:apigatewayv2/apiMapping:ApiMapping": { refs: ["apiId", "domainName"] },
  "aws:acm/certificate:Certificate": { notUnique: { domainName: "ACM issues any number of certificates for one domain" } },
  "aws:route53/record:Record": { within: { name: "its hosted zone (api.hostedZoneId)" }, refs: ["zoneId"] },
  // The account's API Gateway throttle quota in the region: one per account and region, whichever stack requests it.
  "aws:servicequotas/serviceQuota:ServiceQuota": { names: { quotaCode: FREED }, refs: ["serviceCode"] },
  "eks:index:Cluster": { names: { name: FREED }, refs: ["vpcId"] },
};

/** Whole packages without an account-wide name of their own. */
const NO_ACCOUNT_NAMES: Record<string, string> = {
  "eventstack:": "the program's own components: no cloud resource",
  "pulumi:providers:": "providers",
  "kubernetes:": "inside the stack's own EKS cluster",
  "random:": "no cloud resource",
  "tls:": "no cloud resource",
  "docker-build:": "pushes to the stack's own ECR repositories",
};

/** Configuration that turns on every resource the stack files leave off. */
const EVERYTHING_ON = {
  "eventstack:api.domainName": "api.example.com",
  "eventstack:api.hostedZoneId": "Z0123456789ABCDEFGHIJ",
  "eventstack:api.jwtIssuer": "https://issuer.example.com",
  "eventstack:api.jwtAudiences": ["eventstack"],
  "eventstack:api.requestRateQuota": 20000,
  "eventstack:cluster.adminPrincipalArns": ["arn:aws:iam::123456789012:role/platform-admin"],
  "eventstack:delivery.githubRepository": "acme/eventstack",
  "eventstack:delivery.mode": "argocd",
  "eventstack:observability.alertEmails": ["oncall@example.com"],
};

const NAMING_KEY = /(name|Name|namePrefix|NamePrefix|identifier|Identifier|Id|Code)$|^(bucket|bucketPrefix|alias)$/;

interface PhysicalName {
  /** Where the name must be unique: the type and input. */
  namespace: string;
  value: string;
  resource: string;
  retention: Retention;
}

const wholePackage = (type: string) => Object.keys(NO_ACCOUNT_NAMES).find((prefix) => type.startsWith(prefix));

/** Naming inputs of a resource that the rules do not classify. */
function unknownNamingInputs(r: RecordedResource): string[] {
  if (wholePackage(r.type)) return [];
  const rule = RULES[r.type];
  return Object.keys(r.inputs)
    .filter((key) => NAMING_KEY.test(key))
    .filter((key) => !rule || !(rule.names?.[key] || rule.within?.[key] || rule.notUnique?.[key] || rule.refs?.includes(key)))
    .map((key) => `${r.type} input "${key}" (resource ${r.name})`);
}

/** The account-wide physical names a deployment sets: from the inputs, or as generated from a namePrefix. */
function physicalNames(resources: RecordedResource[]): PhysicalName[] {
  const out: PhysicalName[] = [];
  for (const r of resources) {
    if (wholePackage(r.type)) continue;
    for (const [key, retention] of Object.entries(RULES[r.type]?.names ?? {})) {
      if (r.inputs[key] === undefined) continue;
      // A prefix names nothing by itself: the provider's generated name (in the state) is the physical one.
      const named = key.replace(/Prefix$/, "");
      const value = named === key ? r.inputs[key] : r.state[named];
      out.push({ namespace: `${r.type} ${named}`, value: String(value), resource: r.name, retention });
    }
  }
  return out;
}

/** `urn:pulumi:<stack>::<project>::<parent types>$<type>::<name>` → `<type>`. */
const typeOfUrn = (urn: string) => urn.split("::")[2]!.split("$").pop();

const key = (n: PhysicalName) => `${n.namespace} = ${n.value}`;

describe("two stacks in one account", () => {
  const runs: Record<string, RecordedResource[]> = {};
  beforeAll(async () => {
    // Two deployments of each stack: the second stands for the stack destroyed and created again.
    for (const [stack, instance] of [
      ["dev", "first"],
      ["prod", "first"],
      ["dev", "second"],
      ["prod", "second"],
    ] as const) {
      runs[`${stack}/${instance}`] = (await runProgramInstance(stack, instance)).mocks.resources;
    }
    // Every optional resource on, so that the first test also classifies what only some configurations declare.
    runs["prod/everything"] = (await runProgramInstance("prod", "everything", EVERYTHING_ON)).mocks.resources;
  }, 900_000); // five whole-program evaluations

  test("every naming input of every resource type is known: a physical name, a name inside another resource, a name that need not be unique, or a reference", () => {
    const unknown = [...new Set(Object.values(runs).flatMap((resources) => resources.flatMap(unknownNamingInputs)))];
    expect(unknown).toEqual([]);
    // And the check sees what it must: a new type, or a new naming input of a known type.
    const declared = (type: string, inputs: Record<string, unknown>) => ({ type, name: "new", inputs, state: {}, parent: "", dependencies: [], custom: true });
    expect(unknownNamingInputs(declared("aws:s3/bucket:Bucket", { bucket: "eventstack-logs", forceDestroy: true }))).toEqual(['aws:s3/bucket:Bucket input "bucket" (resource new)']);
    expect(unknownNamingInputs(declared("aws:cloudwatch/logGroup:LogGroup", { namePrefix: "/eventstack/" }))).toEqual(['aws:cloudwatch/logGroup:LogGroup input "namePrefix" (resource new)']);
  });

  test("dev and prod have no physical name in common", () => {
    const dev = new Map(physicalNames(runs["dev/first"]!).map((n) => [key(n), n]));
    const prod = physicalNames(runs["prod/first"]!);
    expect(dev.size).toBeGreaterThan(20);
    const shared = prod.filter((n) => dev.has(key(n))).map((n) => `${key(n)} (dev ${dev.get(key(n))!.resource}, prod ${n.resource})`);
    expect(shared).toEqual([]);
  });

  test.each(["dev", "prod"])("%s declares no physical name twice", (stack) => {
    const names = physicalNames(runs[`${stack}/first`]!).map(key);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  test.each(["dev", "prod"])("%s recreated uses its own name wherever AWS keeps one after deletion", (stack) => {
    const kept = (instance: string) => physicalNames(runs[`${stack}/${instance}`]!).filter((n) => n.retention.kind === "kept");
    const first = kept("first");
    const second = new Set(kept("second").map(key));
    expect(first.filter((n) => second.has(key(n))).map(key)).toEqual([]);
    // Not vacuous: the cache's secret in both stacks, prod's final snapshot (dev takes none).
    expect(first.map((n) => n.namespace).sort()).toEqual(
      [...(stack === "prod" ? ["aws:rds/cluster:Cluster finalSnapshotIdentifier"] : []), "aws:secretsmanager/secret:Secret name"].sort(),
    );
    expect(second.size).toBe(first.length);
  });

  test.each(["dev", "prod"])("%s: a name AWS holds briefly belongs to a resource created after, and deleted before, a slow one", (stack) => {
    const resources = runs[`${stack}/first`]!;
    const held = physicalNames(resources).filter((n) => n.retention.kind === "held");
    expect(held.map((n) => n.resource)).toEqual(["karpenter-interruption"]);
    for (const n of held) {
      const after = (n.retention as Extract<Retention, { kind: "held" }>).after;
      const r = resources.find((x) => x.name === n.resource && `${x.type} name` === n.namespace)!;
      // The engine creates a resource after, and deletes it before, every resource it depends on.
      expect(r.dependencies.map(typeOfUrn)).toContain(after);
    }
  });
});
