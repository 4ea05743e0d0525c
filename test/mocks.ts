// Pulumi resource mocks that record every resource the program declares and answer with realistic outputs.
//
// Custom resources echo their inputs and gain the attributes AWS would compute (id, arn, endpoints), with ARNs
// in each service's real format so that IAM policies built from them can be checked resource by resource.
// Remote components (the awsx Vpc, the @pulumi/eks v4 Cluster) run in their own provider process during a real
// deployment, so under mocks their outputs come from here: the shapes below follow their published schemas.
import type * as pulumi from "@pulumi/pulumi";

export const ACCOUNT = "123456789012";
export const PARTITION = "aws";
/** The caller sts:GetCallerIdentity answers with unless a test names another: an IAM user of the account. */
export const DEFAULT_CALLER_ARN = `arn:${PARTITION}:iam::${ACCOUNT}:user/ci`;

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, any>;
  /** Outputs the mock answered with (inputs plus computed attributes). */
  state: Record<string, any>;
  /** Provider reference (`urn::id`) the resource was created with, if any. */
  provider?: string;
  /** URN of the parent resource ("" for the stack's direct children). */
  parent: string;
  /** URNs of the resources it depends on explicitly (`dependsOn`) or through its inputs. */
  dependencies: string[];
  custom: boolean;
}

export interface RecordedCall {
  token: string;
  inputs: Record<string, any>;
}

/** A stable pseudo-random hex string derived from a name, so outputs are deterministic between runs. */
export function fakeHex(seed: string, length: number): string {
  let h = 2166136261;
  let out = "";
  while (out.length < length) {
    for (const c of seed + out.length) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
    out += h.toString(16).padStart(8, "0");
  }
  return out.slice(0, length);
}

/**
 * The physical name the provider generates from a `namePrefix`: the prefix and 26 unique characters (a timestamp and
 * a counter in the Terraform provider underneath). Seeded by the evaluation's instance, so that two evaluations of
 * one stack (a stack destroyed and created again) get different names, as they would in AWS.
 */
export function prefixedName(prefix: string, seed: string): string {
  return `${prefix}${fakeHex(seed, 26)}`;
}

/** Inputs that name a resource explicitly, in arnFor's order: a resource with one of them is not auto-named. */
const PHYSICAL_NAME_INPUTS = ["name", "clusterName", "clusterIdentifier", "identifier"] as const;

/** Pulumi's auto-name of a resource given no name: the logical name and 7 random hex digits. */
export function autoName(logicalName: string, seed: string): string {
  return `${logicalName}-${fakeHex(seed, 7)}`;
}

const service = (type: string) => type.split(":")[1]?.split("/")[0] ?? "unknown";

/** The ARN AWS would give a resource of this type, in that service's own format. */
export function arnFor(type: string, name: string, inputs: Record<string, any>, region: string): string {
  const r = `arn:${PARTITION}`;
  const physical = inputs.name ?? inputs.clusterName ?? inputs.clusterIdentifier ?? inputs.identifier ?? name;
  switch (type) {
    case "aws:iam/role:Role":
      return `${r}:iam::${ACCOUNT}:role/${inputs.path ?? "/"}${physical}`.replace(/role\/\/+/, "role/");
    case "aws:iam/policy:Policy":
      return `${r}:iam::${ACCOUNT}:policy/${physical}`;
    case "aws:iam/user:User":
      return `${r}:iam::${ACCOUNT}:user/${physical}`;
    case "aws:iam/instanceProfile:InstanceProfile":
      return `${r}:iam::${ACCOUNT}:instance-profile/${physical}`;
    case "aws:kms/key:Key":
      return `${r}:kms:${region}:${ACCOUNT}:key/${fakeHex(name, 8)}-${fakeHex(name + "a", 4)}-${fakeHex(name + "b", 4)}-${fakeHex(name + "c", 4)}-${fakeHex(name + "d", 12)}`;
    case "aws:kms/alias:Alias":
      return `${r}:kms:${region}:${ACCOUNT}:${physical}`;
    case "aws:sqs/queue:Queue":
      return `${r}:sqs:${region}:${ACCOUNT}:${physical}`;
    case "aws:cloudwatch/logGroup:LogGroup":
      return `${r}:logs:${region}:${ACCOUNT}:log-group:${physical}`;
    case "aws:cloudwatch/eventRule:EventRule":
      return `${r}:events:${region}:${ACCOUNT}:rule/${physical}`;
    case "aws:secretsmanager/secret:Secret":
      return `${r}:secretsmanager:${region}:${ACCOUNT}:secret:${physical}-${fakeHex(name, 6)}`;
    case "aws:rds/cluster:Cluster":
      return `${r}:rds:${region}:${ACCOUNT}:cluster:${physical}`;
    case "aws:rds/clusterInstance:ClusterInstance":
      return `${r}:rds:${region}:${ACCOUNT}:db:${physical}`;
    case "aws:msk/cluster:Cluster":
    case "aws:msk/serverlessCluster:ServerlessCluster":
      return `${r}:kafka:${region}:${ACCOUNT}:cluster/${physical}/${fakeHex(name, 8)}-${fakeHex(name + "x", 4)}-${fakeHex(name + "y", 4)}-${fakeHex(name + "z", 4)}-${fakeHex(name + "w", 12)}-1`;
    case "aws:msk/configuration:Configuration":
      return `${r}:kafka:${region}:${ACCOUNT}:configuration/${physical}/${fakeHex(name, 8)}`;
    case "aws:msk/topic:Topic":
      // A topic's ARN is its cluster's with `topic/` for `cluster/` and the topic name appended.
      return `${String(inputs.clusterArn).replace(":cluster/", ":topic/")}/${physical}`;
    case "aws:elasticache/replicationGroup:ReplicationGroup":
      return `${r}:elasticache:${region}:${ACCOUNT}:replicationgroup:${inputs.replicationGroupId ?? physical}`;
    case "aws:elasticache/user:User":
      return `${r}:elasticache:${region}:${ACCOUNT}:user:${inputs.userId ?? physical}`;
    case "aws:elasticache/userGroup:UserGroup":
      return `${r}:elasticache:${region}:${ACCOUNT}:usergroup:${inputs.userGroupId ?? physical}`;
    case "aws:eks/cluster:Cluster":
      return `${r}:eks:${region}:${ACCOUNT}:cluster/${physical}`;
    case "aws:ecr/repository:Repository":
      return `${r}:ecr:${region}:${ACCOUNT}:repository/${physical}`;
    case "aws:lb/loadBalancer:LoadBalancer":
      return `${r}:elasticloadbalancing:${region}:${ACCOUNT}:loadbalancer/${inputs.loadBalancerType === "network" ? "net" : "app"}/${physical}/${fakeHex(name, 16)}`;
    case "aws:lb/targetGroup:TargetGroup":
      return `${r}:elasticloadbalancing:${region}:${ACCOUNT}:targetgroup/${physical}/${fakeHex(name, 16)}`;
    case "aws:lb/listener:Listener":
      return `${r}:elasticloadbalancing:${region}:${ACCOUNT}:listener/net/${name}/${fakeHex(name, 16)}/${fakeHex(name + "l", 16)}`;
    case "aws:apigatewayv2/api:Api":
      return `${r}:apigateway:${region}::/apis/${fakeHex(name, 10)}`;
    case "aws:wafv2/webAcl:WebAcl":
      return `${r}:wafv2:${region}:${ACCOUNT}:regional/webacl/${physical}/${fakeHex(name, 8)}`;
    case "aws:amp/workspace:Workspace":
      // AMP's IAM prefix is `aps`; the workspace id is `ws-` and a UUID.
      return `${r}:aps:${region}:${ACCOUNT}:workspace/ws-${fakeHex(name, 8)}-${fakeHex(name + "a", 4)}-${fakeHex(name + "b", 4)}-${fakeHex(name + "c", 4)}-${fakeHex(name + "d", 12)}`;
    case "aws:sns/topic:Topic":
      return `${r}:sns:${region}:${ACCOUNT}:${physical}`;
    case "aws:acm/certificate:Certificate":
      return `${r}:acm:${region}:${ACCOUNT}:certificate/${fakeHex(name, 8)}`;
    default:
      return `${r}:${service(type)}:${region}:${ACCOUNT}:${type.split(":").pop()?.toLowerCase()}/${physical}`;
  }
}

/** Attributes AWS computes for a custom resource, beyond echoing its inputs. */
function computed(type: string, name: string, inputs: Record<string, any>, region: string, instance?: string): Record<string, any> {
  const arn = arnFor(type, name, inputs, region);
  const base: Record<string, any> = { arn, name: inputs.name ?? name };
  switch (type) {
    case "aws:kms/key:Key":
      return { ...base, keyId: arn.split("/").pop() };
    case "aws:sqs/queue:Queue":
      return { ...base, url: `https://sqs.${region}.amazonaws.com/${ACCOUNT}/${inputs.name ?? name}` };
    case "aws:iam/role:Role":
      return { ...base, uniqueId: `AROA${fakeHex(name, 16).toUpperCase()}` };
    case "aws:rds/cluster:Cluster": {
      const id = inputs.clusterIdentifier ?? name;
      return {
        ...base,
        clusterIdentifier: id,
        clusterResourceId: `cluster-${fakeHex(name, 26).toUpperCase()}`,
        endpoint: `${id}.cluster-${fakeHex(name, 12)}.${region}.rds.amazonaws.com`,
        readerEndpoint: `${id}.cluster-ro-${fakeHex(name, 12)}.${region}.rds.amazonaws.com`,
        port: inputs.port ?? 5432,
        masterUserSecrets: inputs.manageMasterUserPassword
          ? [{ secretArn: `arn:${PARTITION}:secretsmanager:${region}:${ACCOUNT}:secret:rds!cluster-${fakeHex(name, 8)}-${fakeHex(name, 6)}`, secretStatus: "active" }]
          : [],
      };
    }
    case "aws:elasticache/replicationGroup:ReplicationGroup": {
      const id = inputs.replicationGroupId ?? name;
      return {
        ...base,
        primaryEndpointAddress: `master.${id}.${fakeHex(name, 6)}.${region}.cache.amazonaws.com`,
        readerEndpointAddress: `replica.${id}.${fakeHex(name, 6)}.${region}.cache.amazonaws.com`,
      };
    }
    case "aws:msk/cluster:Cluster": {
      const hosts = Array.from({ length: 3 }, (_, i) => `b-${i + 1}.${inputs.clusterName ?? name}.${fakeHex(name, 6)}.c2.kafka.${region}.amazonaws.com`);
      return {
        ...base,
        clusterUuid: arn.split("/").pop(),
        bootstrapBrokersSaslIam: hosts.map((h) => `${h}:9098`).join(","),
        bootstrapBrokersTls: hosts.map((h) => `${h}:9094`).join(","),
        zookeeperConnectString: "",
        currentVersion: "K3AEGXETSR30VB",
      };
    }
    case "aws:msk/configuration:Configuration":
      return { ...base, latestRevision: 1 };
    case "aws:msk/serverlessCluster:ServerlessCluster":
      return { ...base, clusterUuid: arn.split("/").pop(), bootstrapBrokersSaslIam: `boot-${fakeHex(name, 8)}.c2.kafka-serverless.${region}.amazonaws.com:9098` };
    case "aws:lb/loadBalancer:LoadBalancer":
      return { ...base, dnsName: `${inputs.name ?? name}-${fakeHex(name, 16)}.elb.${region}.amazonaws.com`, zoneId: "Z26RNL4JYFTOTI" };
    case "aws:apigatewayv2/api:Api": {
      const id = arn.split("/").pop();
      return { ...base, apiEndpoint: `https://${id}.execute-api.${region}.amazonaws.com`, executionArn: `arn:${PARTITION}:execute-api:${region}:${ACCOUNT}:${id}` };
    }
    case "aws:amp/workspace:Workspace": {
      const id = arn.split("/").pop()!;
      return { ...base, id, prometheusEndpoint: `https://aps-workspaces.${region}.amazonaws.com/workspaces/${id}/` };
    }
    case "aws:ecr/repository:Repository":
      return { ...base, repositoryUrl: `${ACCOUNT}.dkr.ecr.${region}.amazonaws.com/${inputs.name ?? name}`, registryId: ACCOUNT };
    case "aws:eks/cluster:Cluster":
      return eksClusterAttributes(inputs.name ?? name, region);
    case "tls:index/privateKey:PrivateKey":
      return { ...base, privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${fakeHex(name, 64)}\n-----END PRIVATE KEY-----\n`, publicKeyPem: `-----BEGIN PUBLIC KEY-----\n${fakeHex(name + "p", 64)}\n-----END PUBLIC KEY-----\n` };
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      // Seeded apart from the key of the same name, so a test can tell a certificate from a private key.
      return { ...base, certPem: `-----BEGIN CERTIFICATE-----\n${fakeHex(`${name}/cert`, 64)}\n-----END CERTIFICATE-----\n` };
    case "docker-build:index:Image":
      // What the build pushes: the manifest digest, and the first tag as the reference.
      return { ...base, digest: `sha256:${fakeHex(name, 64)}`, ref: `${inputs.tags?.[0] ?? name}@sha256:${fakeHex(name, 64)}` };
    case "aws:eks/podIdentityAssociation:PodIdentityAssociation":
      return { ...base, associationId: `a-${fakeHex(name, 17)}`, associationArn: `arn:${PARTITION}:eks:${region}:${ACCOUNT}:podidentityassociation/${inputs.clusterName}/a-${fakeHex(name, 17)}` };
    case "random:index/randomPassword:RandomPassword":
      return { ...base, result: fakeHex(name, 32) };
    case "random:index/randomId:RandomId": {
      // Random bytes: a new draw per evaluation instance (see RecordingMocks.instance), stable within one.
      const hex = fakeHex(`${instance ?? ""}/${name}`, 2 * (inputs.byteLength ?? 8));
      const bytes = Buffer.from(hex, "hex");
      const b64Url = bytes.toString("base64url");
      return { ...base, hex, b64Url, b64Std: bytes.toString("base64"), dec: BigInt(`0x${hex}`).toString(), id: b64Url };
    }
    default:
      return base;
  }
}

function eksClusterAttributes(clusterName: string, region: string) {
  const oidcId = fakeHex(clusterName, 32).toUpperCase();
  return {
    name: clusterName,
    arn: `arn:${PARTITION}:eks:${region}:${ACCOUNT}:cluster/${clusterName}`,
    endpoint: `https://${oidcId}.gr7.${region}.eks.amazonaws.com`,
    certificateAuthority: { data: Buffer.from(`ca-of-${clusterName}`).toString("base64") },
    identities: [{ oidcs: [{ issuer: `https://oidc.eks.${region}.amazonaws.com/id/${oidcId}` }] }],
    vpcConfig: { clusterSecurityGroupId: `sg-${fakeHex(clusterName + "cluster", 17)}` },
    version: undefined,
  };
}

/** Outputs of the awsx `Vpc` remote component: subnets per tier and AZ, route tables, NAT gateways. */
function awsxVpcOutputs(name: string, inputs: Record<string, any>) {
  const azs: number = inputs.numberOfAvailabilityZones ?? inputs.availabilityZoneNames?.length ?? 3;
  const specs: { type: string }[] = inputs.subnetSpecs ?? [{ type: "Private" }, { type: "Public" }];
  const ids = (tier: string) => (specs.some((s) => s.type === tier) ? Array.from({ length: azs }, (_, i) => `subnet-${tier.toLowerCase()}-${i + 1}`) : []);
  const nat = inputs.natGateways?.strategy ?? "OnePerAz";
  const natCount = nat === "Single" ? 1 : nat === "None" ? 0 : azs;
  const privateIds = ids("Private");
  const publicIds = ids("Public");
  const isolatedIds = ids("Isolated");
  return {
    vpcId: `vpc-${fakeHex(name, 17)}`,
    vpc: { id: `vpc-${fakeHex(name, 17)}`, cidrBlock: inputs.cidrBlock ?? "10.0.0.0/16" },
    privateSubnetIds: privateIds,
    publicSubnetIds: publicIds,
    isolatedSubnetIds: isolatedIds,
    subnets: [...privateIds, ...publicIds, ...isolatedIds].map((id) => ({ id })),
    routeTables: [...privateIds, ...publicIds, ...isolatedIds].map((id) => ({ id: id.replace("subnet-", "rtb-") })),
    natGateways: Array.from({ length: natCount }, (_, i) => ({ id: `nat-${i + 1}` })),
    eips: Array.from({ length: natCount }, (_, i) => ({ id: `eipalloc-${i + 1}` })),
    vpcEndpoints: [],
  };
}

/** Outputs of the @pulumi/eks v4 `Cluster` remote component. */
function eksComponentOutputs(name: string, inputs: Record<string, any>, region: string) {
  const clusterName = inputs.name ?? name;
  const eks = eksClusterAttributes(clusterName, region);
  const kubeconfig = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: clusterName, cluster: { server: eks.endpoint, "certificate-authority-data": eks.certificateAuthority.data } }],
    contexts: [{ name: clusterName, context: { cluster: clusterName, user: clusterName } }],
    "current-context": clusterName,
    users: [{ name: clusterName, user: { exec: { apiVersion: "client.authentication.k8s.io/v1beta1", command: "aws", args: ["eks", "get-token", "--cluster-name", clusterName, "--region", region] } } }],
  };
  return {
    eksCluster: { ...eks, id: clusterName },
    kubeconfig,
    kubeconfigJson: JSON.stringify(kubeconfig),
    // With skipDefaultSecurityGroups the component creates no security groups and both ids are the cluster
    // security group EKS creates (the schema's "Returns the EKS created security group" case).
    clusterSecurityGroupId: eks.vpcConfig.clusterSecurityGroupId,
    nodeSecurityGroupId: inputs.skipDefaultSecurityGroups ? eks.vpcConfig.clusterSecurityGroupId : `sg-${fakeHex(clusterName + "node", 17)}`,
    // "Defaults to an empty string if no OIDC provider is configured."
    oidcProviderArn:
      inputs.createOidcProvider === false ? "" : `arn:${PARTITION}:iam::${ACCOUNT}:oidc-provider/oidc.eks.${region}.amazonaws.com/id/${fakeHex(clusterName, 32).toUpperCase()}`,
    oidcProviderUrl: eks.identities[0]!.oidcs[0]!.issuer.replace("https://", ""),
    oidcIssuer: eks.identities[0]!.oidcs[0]!.issuer.replace("https://", ""),
    instanceRoles: [],
    core: { cluster: { ...eks, id: clusterName }, endpoint: eks.endpoint, clusterSecurityGroupId: eks.vpcConfig.clusterSecurityGroupId },
  };
}

/** Answers for provider functions (data sources) the program calls. */
function callResult(token: string, inputs: Record<string, any>, region: string, vpcCidr = "10.0.0.0/16", callerArn = DEFAULT_CALLER_ARN): Record<string, any> {
  switch (token) {
    case "aws:index/getRegion:getRegion":
      return { name: region, region, id: region, description: region };
    case "aws:index/getCallerIdentity:getCallerIdentity":
      return { accountId: ACCOUNT, arn: callerArn, userId: "AIDAEXAMPLE", id: ACCOUNT };
    case "aws:index/getPartition:getPartition":
      return { partition: PARTITION, dnsSuffix: "amazonaws.com", id: PARTITION };
    case "aws:index/getAvailabilityZones:getAvailabilityZones":
      return { names: ["a", "b", "c"].map((s) => `${region}${s}`), zoneIds: [1, 2, 3].map((i) => `${region}-az${i}`), id: region };
    case "aws:ec2/getSubnet:getSubnet": {
      // Subnets named like the awsx mock's (`subnet-<tier>-<n>`) sit in the region's n-th AZ.
      const n = Number(/-(\d+)$/.exec(String(inputs.id))?.[1] ?? 1);
      // A private subnet is the n-th block of its tier's mask (VPC prefix + 3, components/network.ts) from the VPC's start.
      const [vpcBase, vpcPrefix] = vpcCidr.split("/");
      const size = 2 ** (32 - (Number(vpcPrefix) + 3));
      const start = vpcBase!.split(".").reduce((a, o) => a * 256 + Number(o), 0) + (n - 1) * size;
      const cidrBlock = String(inputs.id).startsWith("subnet-private-") ? `${[24, 16, 8, 0].map((b) => Math.floor(start / 2 ** b) % 256).join(".")}/${Number(vpcPrefix) + 3}` : undefined;
      return { id: inputs.id, availabilityZone: `${region}${"abcdef"[(n - 1) % 6]}`, availabilityZoneId: `${region}-az${n}`, ...(cidrBlock ? { cidrBlock } : {}) };
    }
    case "aws:iam/getPolicyDocument:getPolicyDocument":
      return { json: JSON.stringify({ Version: "2012-10-17", Statement: inputs.statements ?? [] }), id: "policy" };
    default:
      return {};
  }
}

export class RecordingMocks implements pulumi.runtime.Mocks {
  readonly resources: RecordedResource[] = [];
  readonly calls: RecordedCall[] = [];
  /** Parent URNs by `type::name`, captured from the monitor before newResource sees the request. */
  readonly parents = new Map<string, string>();
  /** Dependency URNs by `type::name`, captured the same way. */
  readonly dependencies = new Map<string, string[]>();
  /** Per-property dependency URNs by `type::name` (what stack policies follow when a value is unknown). */
  readonly propertyDependencies = new Map<string, Record<string, string[]>>();
  /** How many transforms each `type::name` was registered with (the mock monitor applies none). */
  readonly transforms = new Map<string, number>();

  /**
   * @param instance Seeds what differs between two deployments of the same program: random results, the names the
   *   provider generates from a `namePrefix`, and (only when given) Pulumi's auto-names, `<logical name>-<7 hex>`,
   *   for custom resources given no name. Without it, auto-named resources keep their logical name as `name`.
   */
  constructor(
    readonly region: string,
    readonly instance?: string,
    /** What sts:GetCallerIdentity answers: who runs `pulumi up`. */
    readonly callerArn = DEFAULT_CALLER_ARN,
  ) {}

  newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
    const { type, name } = args;
    let inputs = args.inputs;
    const seed = `${this.instance ?? ""}/${type}::${name}`;
    // What the provider would name it: the prefix plus a unique part, or (with an instance) an auto-name.
    if (args.custom && inputs.name === undefined && typeof inputs.namePrefix === "string") inputs = { ...inputs, name: prefixedName(inputs.namePrefix, seed) };
    else if (args.custom && this.instance !== undefined && type.startsWith("aws:") && !PHYSICAL_NAME_INPUTS.some((k) => inputs[k] !== undefined)) inputs = { ...inputs, name: autoName(name, seed) };
    let state: Record<string, any>;
    if (type === "awsx:ec2:Vpc") state = { ...inputs, ...awsxVpcOutputs(name, inputs) };
    else if (type === "eks:index:Cluster") state = { ...inputs, ...eksComponentOutputs(name, inputs, this.region) };
    else if (args.custom) state = { ...inputs, ...computed(type, name, inputs, this.region, this.instance) };
    else state = { ...inputs };
    const id = args.custom ? (state.id ?? `${name}-id`) : undefined;
    // The id the engine sees, recorded with the state so tests can follow references by id.
    if (id !== undefined) state = { ...state, id };
    this.resources.push({
      type,
      name,
      // As the program declared them; a generated name shows in `state`.
      inputs: args.inputs,
      state,
      provider: args.provider || undefined,
      parent: this.parents.get(`${type}::${name}`) ?? "",
      dependencies: this.dependencies.get(`${type}::${name}`) ?? [],
      custom: args.custom ?? false,
    });
    return { id, state };
  }

  call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
    this.calls.push({ token: args.token, inputs: args.inputs });
    return callResult(args.token, args.inputs, this.region, this.resources.find((r) => r.type === "awsx:ec2:Vpc")?.inputs.cidrBlock, this.callerArn);
  }

  /** Every recorded resource of a type, e.g. `ofType("aws:ec2/vpcEndpoint:VpcEndpoint")`. */
  ofType(type: string): RecordedResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  /** The one resource of a type and name; throws naming what exists when it is missing. */
  get(type: string, name: string): RecordedResource {
    const found = this.resources.find((r) => r.type === type && r.name === name);
    if (!found) {
      const names = this.ofType(type).map((r) => r.name);
      throw new Error(`no ${type} named "${name}" was declared; declared: ${names.length ? names.join(", ") : "none of that type"}`);
    }
    return found;
  }
}
