// The EKS cluster: control plane, its encryption and logs, managed add-ons and the system node group.
//
// Creates:
//   - a KMS key (rotating, administered by this account only) that envelope-encrypts Kubernetes Secrets;
//   - the control-plane log group /aws/eks/<name>/cluster, before the cluster, so that retention is ours;
//   - the cluster IAM role;
//   - an @pulumi/eks v4 Cluster: authentication through EKS access entries only (API mode), a private API
//     endpoint and, by default, a public one open only to publicEndpointCidrs (endpointAccess), no default node
//     group, no Pulumi-made security groups (the nodes carry the cluster security group EKS creates), no OIDC
//     provider (Pod Identity instead), and the vpc-cni and kube-proxy add-ons at pinned versions;
//   - cluster-admin access entries for adminPrincipalArns and for the principal running `pulumi up`, once each:
//     EKS's implicit admin entry for the cluster's creator is turned off, so that listing the deployer (the CI
//     deploy role) as an admin is not a duplicate entry, and the deployer's access is explicit;
//   - HTTPS (443) to the API from privateEndpointCidrs, as rules on the cluster security group;
//   - the system node group (components/system-nodes.ts) and the CoreDNS and Pod Identity agent add-ons;
//   - a Kubernetes provider for every Kubernetes resource and Helm release in the program.
//
// Expects from its caller: the AWS provider, the VPC and its private subnets (tagged by components/network).
import * as aws from "@pulumi/aws";
import * as eks from "@pulumi/eks";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { Architecture, EndpointAccess } from "./config";
import type { Ready } from "./ready";
import { createSystemNodeGroup, SYSTEM_TAINT, systemPlacement } from "./system-nodes";
import { eksAddonVersions } from "./versions";
import { accessEntryKey, PRINCIPAL } from "./defaults/cluster";
export { accessEntryKey };

export interface ClusterArgs {
  /** Physical name of the EKS cluster; also the Karpenter discovery tag value. */
  clusterName: string;
  /** Kubernetes minor version, e.g. "1.34"; components/versions.ts must pin add-ons for it. */
  kubernetesVersion: string;
  vpcId: pulumi.Input<string>;
  /** Private subnets for the control-plane ENIs and the nodes. */
  privateSubnetIds: pulumi.Input<string[]>;
  /**
   * Where the API endpoint answers: "public-and-private" (a public endpoint open to publicEndpointCidrs only, and the
   * private one) or "private" (inside the VPC only). Default "public-and-private": `pulumi up` runs its Kubernetes
   * and Helm steps from outside the VPC it creates.
   */
  endpointAccess?: EndpointAccess;
  /** CIDRs the public endpoint admits; required (non-empty) with "public-and-private", empty with "private". Default []. */
  publicEndpointCidrs?: string[];
  /** CIDRs inside the VPC or connected to it admitted to the API on 443 by the cluster security group. Default []. */
  privateEndpointCidrs?: string[];
  /**
   * IAM role or user ARNs given AmazonEKSClusterAdminPolicy over the whole cluster. Default []. The principal running
   * `pulumi up` gets the same entry whether listed or not (listed once, it has one entry).
   */
  adminPrincipalArns?: string[];
  /** Instance types of the system node group, all of `systemArchitecture`. */
  systemInstanceTypes: string[];
  systemArchitecture: Architecture;
  /** Size of the system node group (fixed: nothing scales it; components/system-pods.ts sizes it). */
  systemNodes: number;
  /** Retention of the control-plane log group (days). */
  logRetentionDays: number;
  /** Control-plane log types sent to CloudWatch. Default ["api", "audit", "authenticator"]. */
  logTypes?: string[];
}

const DEFAULTS = {
  endpointAccess: "public-and-private" as EndpointAccess,
  publicEndpointCidrs: [] as string[],
  privateEndpointCidrs: [] as string[],
  adminPrincipalArns: [] as string[],
  // api and audit answer "who changed what"; authenticator answers "who got in". controllerManager and scheduler
  // are noisy and rarely read.
  logTypes: ["api", "audit", "authenticator"],
};

/** AWS's cluster-admin access policy for access entries. */
export const CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy";

/**
 * The IAM principal behind a caller ARN (sts:GetCallerIdentity), which is what an access entry names: EKS refuses
 * STS session ARNs, and an entry names one existing IAM principal, a role's ARN with its path (EKS user guide,
 * "Create access entries", and the CreateAccessEntry API reference, read 2026-12-05). An assumed-role session
 * `arn:aws:sts::123:assumed-role/Name/session` becomes the role `arn:aws:iam::123:role/Name`; IAM users and roles are
 * returned as they are. A session ARN drops the role's path, so a role with one (role/team/Name, or an IAM Identity
 * Center role under aws-reserved/sso.amazonaws.com/) comes out without it, an ARN that names no existing role;
 * `deployerAdmins` recovers it when the role is listed in adminPrincipalArns with its full ARN.
 */
export function principalArnOfCaller(callerArn: string): string {
  const session = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  return session ? `arn:${session[1]}:iam::${session[2]}:role/${session[3]}` : callerArn;
}

/** Partition, account, kind (role or user) and name of an IAM principal ARN; IAM names are unique per account whatever the path. */
function principalIdentity(arn: string): string | undefined {
  const m = PRINCIPAL.exec(arn);
  return m ? `${m[1]}:${m[2]}:${m[3]}:${m[4]}` : undefined;
}

/**
 * The principals given cluster-admin: adminPrincipalArns, plus the deployer unless one of them already names it
 * (compared by account, kind and name, so that a listed role with a path matches the path-less role of its session).
 */
export function deployerAdmins(adminPrincipalArns: string[], callerArn: string): string[] {
  const deployer = principalArnOfCaller(callerArn);
  const id = principalIdentity(deployer) ?? deployer;
  return adminPrincipalArns.some((arn) => (principalIdentity(arn) ?? arn) === id) ? adminPrincipalArns : [...adminPrincipalArns, deployer];
}

/** The underlying cluster resource the @pulumi/eks component creates, whose creator bootstrap it hard-codes. */
const EKS_CLUSTER_TYPE = "aws:eks/cluster:Cluster";

/**
 * Turns off EKS's implicit cluster-admin entry for the cluster's creator, which @pulumi/eks 4.3.0 hard-codes
 * (`bootstrapClusterCreatorAdminPermissions: true` on the aws.eks.Cluster it creates, with no argument to change it:
 * pulumi/pulumi-eks nodejs/eks/cluster/cluster.ts at v4.3.0, read 2026-12-05). With it on, an access entry for the
 * same principal is refused as a duplicate. The options come back unchanged: the component's ignoreChanges on this
 * field stays, so an existing cluster keeps its value instead of being replaced (the field forces replacement:
 * hashicorp/terraform-provider-aws internal/service/eks/cluster.go, ForceNew, read 2026-12-05). docs/deploy.md says
 * what that means when upgrading a cluster created before.
 */
export const withoutCreatorBootstrap: pulumi.ResourceTransform = ({ type, props, opts }) => {
  if (type !== EKS_CLUSTER_TYPE) return undefined;
  return { props: { ...props, accessConfig: { ...(props.accessConfig ?? {}), bootstrapClusterCreatorAdminPermissions: false } }, opts };
};

export class Cluster extends pulumi.ComponentResource {
  /** The EKS cluster's name (resolves once the control plane exists). */
  readonly name: pulumi.Output<string>;
  readonly clusterArn: pulumi.Output<string>;
  /** Kubeconfig (JSON) using `aws eks get-token`; a secret. */
  readonly kubeconfig: pulumi.Output<string>;
  /** The provider every Kubernetes resource and Helm release must use. */
  readonly provider: k8s.Provider;
  /** The security group EKS created for the control plane ENIs. */
  readonly clusterSecurityGroupId: pulumi.Output<string>;
  /**
   * The one security group every node carries, system and Karpenter nodes alike (it is the cluster security
   * group: see components/system-nodes.ts). Data services admit traffic from this group.
   */
  readonly nodeSecurityGroupId: pulumi.Output<string>;
  readonly kubernetesVersion: string;
  /** What a Kubernetes workload must wait for: nodes to run on, cluster DNS and the Pod Identity agent. */
  readonly ready: Ready;
  readonly systemNodeGroupName: pulumi.Output<string>;

  constructor(name: string, args: ClusterArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:cluster:Cluster", name, {}, opts);
    const { provider } = opts;
    const childOpts = { parent: this, provider };
    const endpointAccess = args.endpointAccess ?? DEFAULTS.endpointAccess;
    const publicEndpointCidrs = args.publicEndpointCidrs ?? DEFAULTS.publicEndpointCidrs;
    const privateEndpointCidrs = args.privateEndpointCidrs ?? DEFAULTS.privateEndpointCidrs;
    // components/config.ts refuses these with the config keys' names; this guards direct use of the component.
    if (endpointAccess === "public-and-private" && publicEndpointCidrs.length === 0)
      throw new Error(`${name}: endpointAccess "public-and-private" needs publicEndpointCidrs, the networks \`pulumi up\` runs from`);
    if (endpointAccess === "private" && (privateEndpointCidrs.length === 0 || publicEndpointCidrs.length > 0))
      throw new Error(`${name}: endpointAccess "private" needs privateEndpointCidrs, the networks \`pulumi up\` runs from, and no publicEndpointCidrs`);
    const adminPrincipalArns = args.adminPrincipalArns ?? DEFAULTS.adminPrincipalArns;
    const logTypes = args.logTypes ?? DEFAULTS.logTypes;
    // components/config.ts already refuses an unpinned version; this guards direct use of the component.
    const addonVersions = eksAddonVersions(args.kubernetesVersion);
    const account = aws.getCallerIdentityOutput({}, childOpts);
    const partition = aws.getPartitionOutput({}, childOpts).partition;

    // Only principals of this account, through IAM, may use or manage the key: the account root is the key
    // policy's only principal, which delegates to IAM policies (the cluster role's below).
    const secretsKey = new aws.kms.Key(
      `${name}-secrets`,
      {
        description: `Envelope encryption of Kubernetes Secrets in EKS cluster ${args.clusterName}`,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
        policy: pulumi.all([partition, account.accountId]).apply(([p, accountId]) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [{ Sid: "AccountAdministersViaIam", Effect: "Allow", Principal: { AWS: `arn:${p}:iam::${accountId}:root` }, Action: "kms:*", Resource: "*" }],
          }),
        ),
      },
      childOpts,
    );
    new aws.kms.Alias(`${name}-secrets`, { name: `alias/${args.clusterName}-eks-secrets`, targetKeyId: secretsKey.keyId }, childOpts);

    // EKS writes to this exact name; creating it first means our retention applies, not "never expire".
    const logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, { name: `/aws/eks/${args.clusterName}/cluster`, retentionInDays: args.logRetentionDays }, childOpts);

    const role = new aws.iam.Role(
      `${name}-role`,
      {
        description: `EKS control plane of ${args.clusterName}`,
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { Service: "eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] }],
        }),
      },
      childOpts,
    );
    const rolePolicies = [
      new aws.iam.RolePolicyAttachment(`${name}-role-cluster`, { role: role.name, policyArn: pulumi.interpolate`arn:${partition}:iam::aws:policy/AmazonEKSClusterPolicy` }, childOpts),
      new aws.iam.RolePolicy(
        `${name}-role-secrets`,
        {
          role: role.id,
          policy: secretsKey.arn.apply((arn) =>
            JSON.stringify({
              Version: "2012-10-17",
              Statement: [{ Effect: "Allow", Action: ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"], Resource: arn }],
            }),
          ),
        },
        childOpts,
      ),
    ];

    const cluster = new eks.Cluster(
      `${name}-eks`,
      {
        name: args.clusterName,
        version: args.kubernetesVersion,
        vpcId: args.vpcId,
        privateSubnetIds: args.privateSubnetIds,
        serviceRole: role,
        authenticationMode: "API",
        // No accessEntries here: they are declared below, once the deployer is known.
        endpointPrivateAccess: true,
        endpointPublicAccess: endpointAccess === "public-and-private",
        // EKS opens a public endpoint to 0.0.0.0/0 unless given CIDRs; only the deployer's are ever given.
        publicAccessCidrs: endpointAccess === "public-and-private" ? publicEndpointCidrs : undefined,
        encryptionConfigKeyArn: secretsKey.arn,
        enabledClusterLogTypes: logTypes,
        skipDefaultNodeGroup: true,
        // No Pulumi-made cluster/node security groups: every node then carries the cluster security group EKS
        // creates, which is what the control plane uses and what Karpenter's nodes select.
        skipDefaultSecurityGroups: true,
        // Pod Identity replaces IRSA, so no IAM OIDC provider is needed.
        createOidcProvider: false,
        // Every add-on is an EKS managed add-on at a pinned version; nothing self-managed to take over later.
        bootstrapSelfManagedAddons: false,
        // The VPC CNI's network policy agent enforces the apps' NetworkPolicies (components/workload); without it
        // Kubernetes accepts NetworkPolicy objects and silently enforces nothing.
        vpcCniOptions: { addonVersion: addonVersions["vpc-cni"], enableNetworkPolicy: true },
        kubeProxyAddonOptions: { version: addonVersions["kube-proxy"] },
        // CoreDNS can only become ACTIVE once a node exists, so it is created below, after the node group.
        corednsAddonOptions: { enabled: false },
      },
      // Transforms reach the children of a packaged component such as this one (Pulumi docs, resource options
      // "transformations" and "transforms", read 2026-12-05).
      { parent: this, providers: { aws: provider }, dependsOn: [logGroup, ...rolePolicies], transforms: [withoutCreatorBootstrap] },
    );

    const clusterName = cluster.eksCluster.name;
    const clusterArn = cluster.eksCluster.arn;

    // Cluster-admin access entries, one per principal (EKS refuses a second entry for an ARN), each named by its
    // principal: adding the deployer to adminPrincipalArns or taking it out keeps its one entry. Which principals
    // depends on who runs `pulumi up`, an invoke's answer that a preview knows too, so they are declared once it is
    // known. (Not the component's accessEntries: @pulumi/eks 4.3.0 iterates that map when constructing, so its keys must
    // be known in the program, and here they are not.)
    const adminPolicyArn = pulumi.interpolate`arn:${partition}:eks::aws:cluster-access-policy/${CLUSTER_ADMIN_POLICY}`;
    const adminAccess = account.arn.apply((callerArn) =>
      deployerAdmins(adminPrincipalArns, callerArn).map((principalArn) => {
        const key = accessEntryKey(principalArn);
        const entry = new aws.eks.AccessEntry(`${name}-admin-${key}`, { clusterName, principalArn, type: "STANDARD" }, childOpts);
        return new aws.eks.AccessPolicyAssociation(
          `${name}-admin-${key}`,
          { clusterName, principalArn: entry.principalArn, policyArn: adminPolicyArn, accessScope: { type: "cluster" } },
          childOpts,
        );
      }),
    );

    // The private endpoint's ENIs carry the cluster security group, which admits only its own members (the nodes);
    // a VPN or a runner elsewhere in the VPC reaches the API through these rules. Named by CIDR, so that reordering
    // the list replaces nothing.
    for (const cidr of privateEndpointCidrs)
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-api-from-${cidr.replace(/[./]/g, "-")}`,
        {
          securityGroupId: cluster.clusterSecurityGroupId,
          cidrIpv4: cidr,
          ipProtocol: "tcp",
          fromPort: 443,
          toPort: 443,
          description: `Kubernetes API (HTTPS) from ${cidr}, where pulumi up runs`,
        },
        childOpts,
      );

    const { nodeGroup } = createSystemNodeGroup(
      `${name}-system`,
      {
        clusterName,
        kubernetesVersion: args.kubernetesVersion,
        subnetIds: args.privateSubnetIds,
        instanceTypes: args.systemInstanceTypes,
        architecture: args.systemArchitecture,
        nodes: args.systemNodes,
      },
      childOpts,
    );

    const addon = (addonName: "coredns" | "eks-pod-identity-agent", configuration: object | undefined, dependsOn: pulumi.Resource[]) =>
      new aws.eks.Addon(
        `${name}-${addonName}`,
        {
          clusterName,
          addonName,
          addonVersion: addonVersions[addonName],
          resolveConflictsOnCreate: "OVERWRITE",
          resolveConflictsOnUpdate: "OVERWRITE",
          configurationValues: configuration ? JSON.stringify(configuration) : undefined,
        },
        { ...childOpts, dependsOn },
      );
    // CoreDNS on the system nodes (its default tolerations already include CriticalAddonsOnly): Karpenter resolves
    // AWS endpoints through it, so it must not depend on nodes Karpenter manages.
    const coredns = addon(
      "coredns",
      { nodeSelector: systemPlacement.nodeSelector, tolerations: [{ key: SYSTEM_TAINT.key, operator: "Exists" }] },
      [nodeGroup],
    );
    // A DaemonSet that tolerates every taint, so it runs on system and Karpenter nodes alike.
    const podIdentityAgent = addon("eks-pod-identity-agent", undefined, []);

    const kubeconfig = pulumi.secret(cluster.kubeconfigJson);
    // Every Kubernetes step waits for the admins' access, the deployer's included: EKS gives the creator none.
    const k8sProvider = new k8s.Provider(`${name}-k8s`, { kubeconfig, enableServerSideApply: true }, { parent: this, dependsOn: adminAccess });


    this.name = clusterName;
    this.clusterArn = clusterArn;
    this.kubeconfig = kubeconfig;
    this.provider = k8sProvider;
    this.clusterSecurityGroupId = cluster.clusterSecurityGroupId;
    this.nodeSecurityGroupId = cluster.nodeSecurityGroupId;
    this.kubernetesVersion = args.kubernetesVersion;
    this.ready = [nodeGroup, coredns, podIdentityAgent];
    this.systemNodeGroupName = nodeGroup.nodeGroupName;
    this.registerOutputs();
  }
}
