// Network and IAM: nothing but the public entry point takes traffic from the whole internet, every VPC keeps
// flow logs, no policy grants everything, no trust or resource policy lets anyone in, KMS keys rotate, and
// every AWS resource carries its owner and cost center.
import type * as aws from "@pulumi/aws";
import type { PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { asArray, constrainsIdentity, forType, forTypes, hasWildcardPrincipal, isAnyAddress, known, knownString, ofTypes, ownTags, Props, providerDefaultTags, refersTo, Statement, statements } from "./lib";

// ------------------------------------------------------------------ security group ingress

export const SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup";
export const SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule";
export const SECURITY_GROUP_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";

/**
 * The tag that marks a security group as the public entry point (an internet-facing load balancer's), the
 * one place where ingress from 0.0.0.0/0 or ::/0 is allowed, and then only to HTTPS or HTTP (TCP 443, 80).
 */
export const PUBLIC_ENTRYPOINT_TAG = "eventstack:public-entrypoint";
export const PUBLIC_ENTRYPOINT_PORTS = [443, 80];

interface Ingress {
  protocol?: string;
  fromPort?: number;
  toPort?: number;
  cidrs: string[];
}

const isPublicEntrypoint = (sg: PolicyResource | undefined) => sg !== undefined && ownTags(sg.props)[PUBLIC_ENTRYPOINT_TAG] === "true";

/** TCP to one web port exactly; ranges and "-1" (all traffic) are never allowed from anywhere. */
const isWebPort = (i: Ingress) =>
  (i.protocol === "tcp" || i.protocol === "6") && i.fromPort === i.toPort && PUBLIC_ENTRYPOINT_PORTS.includes(Number(i.fromPort));

const describe = (i: Ingress) => `${i.protocol === "-1" ? "all traffic" : `${i.protocol} ${i.fromPort === i.toPort ? i.fromPort : `${i.fromPort}-${i.toPort}`}`}`;

export const noOpenIngress: StackValidationPolicy = {
  name: "security-group-no-open-ingress",
  description: `No security group admits ingress from 0.0.0.0/0 or ::/0, except the public entry point: a group tagged ${PUBLIC_ENTRYPOINT_TAG}=true may admit TCP 443 and 80 from anywhere. Covers inline ingress, SecurityGroupRule and vpc.SecurityGroupIngressRule. Checkov CKV_AWS_24, CKV_AWS_25, CKV_AWS_260, CKV_AWS_277; Trivy AVD-AWS-0107.`,
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const groups = ofTypes(args, SECURITY_GROUP);
    const groupOf = (rule: PolicyResource) => groups.find((g) => refersTo(rule, "securityGroupId", g, [known(() => g.props.id)]));
    // A CIDR computed from another resource (unknown during a preview) is never a literal "anywhere", so a
    // rule whose values cannot be read yet is skipped rather than failing the whole policy.
    const check = (owner: PolicyResource, group: PolicyResource | undefined, read: () => Ingress) => {
      const ingress = known(read);
      if (!ingress) return;
      const open = ingress.cidrs.filter(isAnyAddress);
      if (open.length === 0) return;
      if (isPublicEntrypoint(group) && isWebPort(ingress)) return;
      const where = group && group !== owner ? ` (security group "${group.name}")` : "";
      const fix = isPublicEntrypoint(group)
        ? `the public entry point may only admit TCP ${PUBLIC_ENTRYPOINT_PORTS.join(" and ")} from anywhere`
        : `admit a CIDR or security group instead, or, for the public entry point's group only, tag it ${PUBLIC_ENTRYPOINT_TAG}=true`;
      report(`"${owner.name}"${where} admits ${describe(ingress)} from ${open.join(", ")}: ${fix}.`, owner.urn);
    };
    for (const sg of groups) {
      for (const rule of (known(() => [...asArray(sg.props.ingress)]) ?? []) as Props<aws.types.input.ec2.SecurityGroupIngress>[]) {
        check(sg, sg, () => ({ protocol: String(rule.protocol), fromPort: rule.fromPort, toPort: rule.toPort, cidrs: [...asArray(rule.cidrBlocks), ...asArray(rule.ipv6CidrBlocks)] }));
      }
    }
    for (const r of ofTypes(args, SECURITY_GROUP_RULE)) {
      const rule = r.props as Props<aws.ec2.SecurityGroupRuleArgs>;
      if (known(() => rule.type) !== "ingress") continue;
      check(r, groupOf(r), () => ({ protocol: String(rule.protocol), fromPort: rule.fromPort, toPort: rule.toPort, cidrs: [...asArray(rule.cidrBlocks), ...asArray(rule.ipv6CidrBlocks)] }));
    }
    for (const r of ofTypes(args, SECURITY_GROUP_INGRESS_RULE)) {
      const rule = r.props as Props<aws.vpc.SecurityGroupIngressRuleArgs>;
      check(r, groupOf(r), () => ({ protocol: String(rule.ipProtocol), fromPort: rule.fromPort, toPort: rule.toPort, cidrs: [rule.cidrIpv4, rule.cidrIpv6].filter((c): c is string => !!c) }));
    }
  },
};

// ------------------------------------------------------------------ VPC flow logs

export const VPC = "aws:ec2/vpc:Vpc";
export const AWSX_VPC = "awsx:ec2:Vpc";
export const FLOW_LOG = "aws:ec2/flowLog:FlowLog";

export const vpcFlowLogs: StackValidationPolicy = {
  name: "vpc-flow-logs",
  description:
    "Every VPC has a flow log. A VPC is an aws:ec2/vpc:Vpc, or an awsx:ec2:Vpc component (whose aws:ec2/vpc:Vpc child only shows in a real preview; the pair counts once). Checkov CKV2_AWS_11; Trivy AVD-AWS-0178.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const components = ofTypes(args, AWSX_VPC);
    // An aws Vpc created by an awsx Vpc is that component's VPC, not a second one.
    const vpcs = [...components, ...ofTypes(args, VPC).filter((v) => !components.some((c) => v.parent?.urn === c.urn))];
    if (vpcs.length === 0) return args.notApplicable("no VPC in the stack");
    const flowLogs = ofTypes(args, FLOW_LOG);
    for (const vpc of vpcs) {
      const ids = [knownString(vpc.props, "vpcId"), knownString(vpc.props, "id")].filter((v) => v !== undefined);
      const children = args.resources.filter((r) => r.type === VPC && r.parent?.urn === vpc.urn);
      const covered = flowLogs.some((f) => refersTo(f, "vpcId", vpc, ids) || children.some((c) => refersTo(f, "vpcId", c, ids)));
      if (!covered) report(`VPC "${vpc.name}" has no flow log: create an aws.ec2.FlowLog with vpcId set to it (config network.flowLogs: true).`, vpc.urn);
    }
  },
};

// ------------------------------------------------------------------ IAM: no "*" on "*"

/** Identity policies: their `policy` is a policy document attached to a role, user or group. */
const IDENTITY_POLICY_TYPES = ["aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy", "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy"];
const ATTACHMENT_TYPES = ["aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/userPolicyAttachment:UserPolicyAttachment", "aws:iam/groupPolicyAttachment:GroupPolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment"];
const ADMIN_POLICY = /:iam::aws:policy\/AdministratorAccess$/;

const grantsEverything = (s: Statement) =>
  (s.Effect ?? "Allow") === "Allow" && asArray(s.Action).some((a) => a === "*" || a === "*:*") && asArray(s.Resource).includes("*");

function checkDocument(doc: unknown, where: string, report: ReportViolation) {
  for (const s of statements(doc)) {
    if (grantsEverything(s)) report(`${where} has a statement${s.Sid ? ` (Sid ${s.Sid})` : ""} that allows "*" on "*": grant the actions and resources the workload uses.`);
  }
}

export const noAdminPolicies: ResourceValidationPolicy = {
  name: "iam-no-star-on-star",
  description:
    'No IAM policy allows Action "*" on Resource "*", inline or managed, and nothing attaches AWS\'s AdministratorAccess. Checkov CKV_AWS_62, CKV_AWS_63; Trivy AVD-AWS-0057.',
  enforcementLevel: "mandatory",
  validateResource: forTypes<any>({
    ...Object.fromEntries(IDENTITY_POLICY_TYPES.map((t) => [t, (p: { policy?: unknown }, _a: ResourceValidationArgs, report: ReportViolation) => checkDocument(p.policy, "policy", report)])),
    "aws:iam/role:Role": (role: Props<aws.iam.RoleArgs>, _a: ResourceValidationArgs, report: ReportViolation) => {
      for (const inline of asArray(role.inlinePolicies)) checkDocument(inline.policy, `inline policy "${inline.name ?? ""}"`, report);
      if (asArray(role.managedPolicyArns).some((arn) => ADMIN_POLICY.test(arn))) report("managedPolicyArns includes AdministratorAccess: attach a policy scoped to the role's job.");
    },
    ...Object.fromEntries(
      ATTACHMENT_TYPES.map((t) => [
        t,
        (a: { policyArn?: string }, _args: ResourceValidationArgs, report: ReportViolation) => {
          if (typeof a.policyArn === "string" && ADMIN_POLICY.test(a.policyArn)) report("policyArn is AdministratorAccess: attach a policy scoped to the principal's job.");
        },
      ]),
    ),
  }),
};

// ------------------------------------------------------------------ trust and resource policies: no anonymous principal

/** Resource types whose property is a trust or resource policy, i.e. says who may act, not what. */
export const RESOURCE_POLICY_PROPERTIES: Record<string, string> = {
  "aws:iam/role:Role": "assumeRolePolicy",
  "aws:kms/key:Key": "policy",
  "aws:kms/keyPolicy:KeyPolicy": "policy",
  "aws:sqs/queue:Queue": "policy",
  "aws:sqs/queuePolicy:QueuePolicy": "policy",
  "aws:sns/topic:Topic": "policy",
  "aws:sns/topicPolicy:TopicPolicy": "policy",
  "aws:s3/bucketPolicy:BucketPolicy": "policy",
  "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",
  "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
  "aws:cloudwatch/logResourcePolicy:LogResourcePolicy": "policyDocument",
};

export const noWildcardPrincipal: ResourceValidationPolicy = {
  name: "iam-no-wildcard-principal",
  description:
    'No trust or resource policy allows Principal "*" (or {"AWS": "*"}) unless a Condition pins the caller to an account, organization, principal, source ARN or VPC endpoint (aws:SourceAccount, aws:PrincipalOrgID, ...). Checkov CKV_AWS_60, CKV_AWS_33; no Trivy equivalent.',
  enforcementLevel: "mandatory",
  validateResource: forTypes<Record<string, unknown>>(
    Object.fromEntries(
      Object.entries(RESOURCE_POLICY_PROPERTIES).map(([type, property]) => [
        type,
        (props, _args, report) => {
          for (const s of statements(props[property])) {
            if ((s.Effect ?? "Allow") !== "Allow" || !hasWildcardPrincipal(s) || constrainsIdentity(s)) continue;
            report(`${property} allows any principal ("*")${s.Sid ? ` in statement ${s.Sid}` : ""} with no condition on the caller's account, organization or source: name the principals, or add a condition such as aws:SourceAccount or aws:PrincipalOrgID.`);
          }
        },
      ]),
    ),
  ),
};

// ------------------------------------------------------------------ KMS rotation

export const KMS_KEY = "aws:kms/key:Key";

export const kmsRotation: ResourceValidationPolicy = {
  name: "kms-key-rotation",
  description: "Symmetric KMS keys rotate their key material yearly or more often (asymmetric and HMAC keys cannot). Checkov CKV_AWS_7; Trivy AVD-AWS-0065.",
  enforcementLevel: "mandatory",
  validateResource: forType<Props<aws.kms.KeyArgs>>(KMS_KEY, (k, args, report) => {
    const spec = k.customerMasterKeySpec ?? "SYMMETRIC_DEFAULT";
    if (spec !== "SYMMETRIC_DEFAULT") return args.notApplicable(`${spec} keys do not support rotation`);
    if (k.enableKeyRotation !== true) report("enableKeyRotation is not true: set it to true.");
  }),
};

// ------------------------------------------------------------------ ownership tags

export const REQUIRED_TAGS = ["Owner", "CostCenter"] as const;

/** Provider resources, and AWS types that are not resources of an account, carry no tags. */
const isAwsResource = (r: PolicyResource) => r.type.startsWith("aws:") && !r.type.startsWith("pulumi:providers:");

export const ownershipTags: StackValidationPolicy = {
  name: "required-ownership-tags",
  description: `Every AWS resource carries non-empty ${REQUIRED_TAGS.join(" and ")} tags: from the aws provider's defaultTags (how eventstack sets them, config tags.owner and tags.costCenter) or its own tags. A resource created through a provider without them (the default provider, say) fails even if its type has no tags: use the stack's provider. No Checkov/Trivy equivalent.`,
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const resources = args.resources.filter(isAwsResource);
    if (resources.length === 0) return args.notApplicable("no AWS resource in the stack");
    for (const r of resources) {
      const tags = { ...providerDefaultTags(r.provider?.props), ...ownTags(r.props) };
      const missing = REQUIRED_TAGS.filter((t) => typeof tags[t] !== "string" || tags[t]!.trim() === "");
      if (missing.length) {
        const via = r.provider ? `provider "${r.provider.name}"` : "the default provider";
        report(`${r.type} "${r.name}" (created through ${via}) lacks ${missing.join(" and ")}: create it with the stack's aws provider, whose defaultTags carry them, or set them in its tags.`, r.urn);
      }
    }
  },
};

export const networkIamPolicies = [noOpenIngress, vpcFlowLogs, noAdminPolicies, noWildcardPrincipal, kmsRotation, ownershipTags];
