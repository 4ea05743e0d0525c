// Network and IAM rules: for each, a resource (or stack) that passes and one that violates, with the exact
// message the rule reports.
import type { Policies } from "@pulumi/policy";
import * as net from "../policy/network-iam";
import { FakeResource, UNKNOWN, urnOf, validateResource, validateStack } from "./policy-harness";

type Policy = Policies[number];
const check = async (policy: Policy, type: string, props: Record<string, any>) => (await validateResource(policy, { type, name: "r", props })).violations.map((v) => v.message);
const checkStack = async (policy: Policy, resources: FakeResource[]) => (await validateStack(policy, resources)).violations.map((v) => ({ message: v.message, urn: v.urn }));

describe("security group ingress", () => {
  const sg = (name: string, props: Record<string, any>): FakeResource => ({ type: net.SECURITY_GROUP, name, props: { vpcId: "vpc-1", ...props } });
  const https = (cidr: string) => ({ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: [cidr] });

  test("ingress from inside the VPC passes; the tagged public entry point may admit 443 and 80 from anywhere", async () => {
    expect(await checkStack(net.noOpenIngress, [sg("endpoints", { ingress: [https("10.0.0.0/16")] })])).toEqual([]);
    const entry = sg("public-lb", { tags: { [net.PUBLIC_ENTRYPOINT_TAG]: "true" }, ingress: [https("0.0.0.0/0"), { protocol: "tcp", fromPort: 80, toPort: 80, ipv6CidrBlocks: ["::/0"] }] });
    expect(await checkStack(net.noOpenIngress, [entry])).toEqual([]);
  });

  test("inline ingress from 0.0.0.0/0 on an untagged group violates", async () => {
    expect(await checkStack(net.noOpenIngress, [sg("nodes", { ingress: [https("0.0.0.0/0")] })])).toEqual([
      {
        message: '"nodes" admits tcp 443 from 0.0.0.0/0: admit a CIDR or security group instead, or, for the public entry point\'s group only, tag it eventstack:public-entrypoint=true.',
        urn: urnOf(net.SECURITY_GROUP, "nodes"),
      },
    ]);
  });

  test("the public entry point still may not open other ports", async () => {
    const entry = sg("public-lb", { tags: { [net.PUBLIC_ENTRYPOINT_TAG]: "true" }, ingress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }] });
    expect((await checkStack(net.noOpenIngress, [entry])).map((v) => v.message)).toEqual([
      '"public-lb" admits all traffic from 0.0.0.0/0: the public entry point may only admit TCP 443 and 80 from anywhere.',
    ]);
  });

  test("standalone rules are judged by the group they join, found by id or by dependency", async () => {
    const entry = sg("public-lb", { tags: { [net.PUBLIC_ENTRYPOINT_TAG]: "true" } });
    const entryRule: FakeResource = {
      type: net.SECURITY_GROUP_INGRESS_RULE,
      name: "lb-https",
      props: { securityGroupId: UNKNOWN, ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv6: "::/0" },
      propertyDependencies: { securityGroupId: [urnOf(net.SECURITY_GROUP, "public-lb")] },
    };
    expect(await checkStack(net.noOpenIngress, [entry, entryRule])).toEqual([]);

    const internal = sg("db", {});
    const sshRule: FakeResource = {
      type: net.SECURITY_GROUP_RULE,
      name: "db-ssh",
      props: { type: "ingress", securityGroupId: UNKNOWN, protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/0"] },
      propertyDependencies: { securityGroupId: [urnOf(net.SECURITY_GROUP, "db")] },
    };
    const egress: FakeResource = { type: net.SECURITY_GROUP_RULE, name: "db-out", props: { type: "egress", securityGroupId: "sg-1", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] } };
    const openV4: FakeResource = { type: net.SECURITY_GROUP_INGRESS_RULE, name: "db-any", props: { securityGroupId: "sg-unknown-to-us", ipProtocol: "-1", cidrIpv4: "0.0.0.0/0" } };
    expect(await checkStack(net.noOpenIngress, [internal, sshRule, egress, openV4])).toEqual([
      {
        message: '"db-ssh" (security group "db") admits tcp 22 from 0.0.0.0/0: admit a CIDR or security group instead, or, for the public entry point\'s group only, tag it eventstack:public-entrypoint=true.',
        urn: urnOf(net.SECURITY_GROUP_RULE, "db-ssh"),
      },
      {
        message: '"db-any" admits all traffic from 0.0.0.0/0: admit a CIDR or security group instead, or, for the public entry point\'s group only, tag it eventstack:public-entrypoint=true.',
        urn: urnOf(net.SECURITY_GROUP_INGRESS_RULE, "db-any"),
      },
    ]);
  });

  test("a CIDR not known during the preview is skipped, not reported", async () => {
    expect(await checkStack(net.noOpenIngress, [sg("nodes", { ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: [UNKNOWN] }] })])).toEqual([]);
  });
});

describe("VPC flow logs", () => {
  const awsxVpc: FakeResource = { type: net.AWSX_VPC, name: "network-vpc", props: { cidrBlock: "10.0.0.0/16", vpcId: "vpc-0abc" } };
  const awsxUrn = urnOf(net.AWSX_VPC, "network-vpc");
  const childVpc: FakeResource = { type: net.VPC, name: "network-vpc", parent: awsxUrn, props: { cidrBlock: "10.0.0.0/16" } };
  const flowLog = (props: Record<string, any>, deps?: Record<string, string[]>): FakeResource => ({ type: net.FLOW_LOG, name: "flow", props: { trafficType: "ALL", ...props }, propertyDependencies: deps });

  test("a flow log naming the awsx VPC's id (under mocks) or depending on it (real preview) covers it and its aws Vpc child", async () => {
    expect(await checkStack(net.vpcFlowLogs, [awsxVpc, flowLog({ vpcId: "vpc-0abc" })])).toEqual([]);
    const preview = [{ ...awsxVpc, props: { cidrBlock: "10.0.0.0/16", vpcId: UNKNOWN } }, childVpc, flowLog({ vpcId: UNKNOWN }, { vpcId: [awsxUrn] })];
    expect(await checkStack(net.vpcFlowLogs, preview)).toEqual([]);
  });

  test("a plain aws Vpc with a flow log depending on it passes", async () => {
    const vpc: FakeResource = { type: net.VPC, name: "main", props: { cidrBlock: "10.1.0.0/16" } };
    expect(await checkStack(net.vpcFlowLogs, [vpc, flowLog({ vpcId: UNKNOWN }, { vpcId: [urnOf(net.VPC, "main")] })])).toEqual([]);
  });

  test("a VPC without a flow log violates, once for the awsx component and its child", async () => {
    expect(await checkStack(net.vpcFlowLogs, [awsxVpc, childVpc, flowLog({ vpcId: "vpc-other" })])).toEqual([
      { message: 'VPC "network-vpc" has no flow log: create an aws.ec2.FlowLog with vpcId set to it (config network.flowLogs: true).', urn: awsxUrn },
    ]);
  });
});

describe("IAM: no \"*\" on \"*\"", () => {
  const admin = JSON.stringify({ Version: "2012-10-17", Statement: [{ Sid: "All", Effect: "Allow", Action: "*", Resource: "*" }] });
  const scoped = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["logs:PutLogEvents"], Resource: "*" }, { Effect: "Deny", Action: "*", Resource: "*" }] });

  test("scoped policies pass, as text or as an object", async () => {
    expect(await check(net.noAdminPolicies, "aws:iam/rolePolicy:RolePolicy", { role: "r", policy: scoped })).toEqual([]);
    expect(await check(net.noAdminPolicies, "aws:iam/policy:Policy", { policy: JSON.parse(scoped) })).toEqual([]);
    expect(await check(net.noAdminPolicies, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", { role: "r", policyArn: "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy" })).toEqual([]);
  });

  test("star on star, inline or attached as AdministratorAccess, violates", async () => {
    expect(await check(net.noAdminPolicies, "aws:iam/policy:Policy", { policy: admin })).toEqual(['policy has a statement (Sid All) that allows "*" on "*": grant the actions and resources the workload uses.']);
    expect(await check(net.noAdminPolicies, "aws:iam/role:Role", { assumeRolePolicy: "{}", inlinePolicies: [{ name: "ops", policy: admin }] })).toEqual([
      'inline policy "ops" has a statement (Sid All) that allows "*" on "*": grant the actions and resources the workload uses.',
    ]);
    expect(await check(net.noAdminPolicies, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", { role: "r", policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" })).toEqual([
      "policyArn is AdministratorAccess: attach a policy scoped to the principal's job.",
    ]);
  });
});

describe("IAM: no wildcard principal", () => {
  const trust = (statement: Record<string, unknown>) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "sts:AssumeRole", ...statement }] });

  test("named principals pass; a wildcard pinned by an identity condition passes", async () => {
    expect(await check(net.noWildcardPrincipal, "aws:iam/role:Role", { assumeRolePolicy: trust({ Principal: { Service: "pods.eks.amazonaws.com" } }) })).toEqual([]);
    const orgOnly = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: "*", Action: "kms:Decrypt", Resource: "*", Condition: { StringEquals: { "aws:PrincipalOrgID": "o-abc" } } }] };
    expect(await check(net.noWildcardPrincipal, "aws:kms/key:Key", { policy: JSON.stringify(orgOnly) })).toEqual([]);
  });

  test("Principal \"*\" or {AWS: \"*\"} with no identity condition violates", async () => {
    expect(await check(net.noWildcardPrincipal, "aws:iam/role:Role", { assumeRolePolicy: trust({ Sid: "Anyone", Principal: { AWS: "*" } }) })).toEqual([
      'assumeRolePolicy allows any principal ("*") in statement Anyone with no condition on the caller\'s account, organization or source: name the principals, or add a condition such as aws:SourceAccount or aws:PrincipalOrgID.',
    ]);
    const tlsOnly = { Statement: [{ Effect: "Allow", Principal: "*", Action: "sqs:SendMessage", Resource: "*", Condition: { Bool: { "aws:SecureTransport": "true" } } }] };
    expect(await check(net.noWildcardPrincipal, "aws:sqs/queuePolicy:QueuePolicy", { queueUrl: "q", policy: tlsOnly })).toEqual([
      'policy allows any principal ("*") with no condition on the caller\'s account, organization or source: name the principals, or add a condition such as aws:SourceAccount or aws:PrincipalOrgID.',
    ]);
  });
});

describe("KMS key rotation", () => {
  test("a rotating symmetric key passes; an asymmetric key is out of scope", async () => {
    expect(await check(net.kmsRotation, net.KMS_KEY, { enableKeyRotation: true })).toEqual([]);
    const rsa = await validateResource(net.kmsRotation, { type: net.KMS_KEY, name: "signing", props: { customerMasterKeySpec: "RSA_3072", keyUsage: "SIGN_VERIFY" } });
    expect(rsa).toEqual({ violations: [], notApplicable: [{ policy: "kms-key-rotation", reason: "RSA_3072 keys do not support rotation" }] });
  });

  test("a symmetric key without rotation violates", async () => {
    expect(await check(net.kmsRotation, net.KMS_KEY, {})).toEqual(["enableKeyRotation is not true: set it to true."]);
  });
});

describe("ownership tags", () => {
  const tagged = { type: "pulumi:providers:aws", name: "aws", urn: urnOf("pulumi:providers:aws", "aws"), props: { defaultTags: JSON.stringify({ tags: { Owner: "platform", CostCenter: "eventstack" } }) } };
  const untagged = { type: "pulumi:providers:aws", name: "default_7_48_0", urn: urnOf("pulumi:providers:aws", "default_7_48_0"), props: { region: "eu-west-1" } };

  test("tags from the provider's defaultTags, or the resource's own, pass; providers and components are not checked", async () => {
    const resources: FakeResource[] = [
      { type: "pulumi:providers:aws", name: "aws", props: tagged.props },
      { type: "aws:iam/rolePolicy:RolePolicy", name: "through-provider", props: { role: "r", policy: "{}" }, provider: tagged },
      { type: "aws:s3/bucket:Bucket", name: "own-tags", props: { tags: { Owner: "data", CostCenter: "analytics" } }, provider: untagged },
      { type: "eventstack:network:Network", name: "network", props: {} },
    ];
    expect(await checkStack(net.ownershipTags, resources)).toEqual([]);
  });

  test("a resource whose provider and own tags lack Owner or CostCenter violates", async () => {
    const resources: FakeResource[] = [
      { type: "aws:sqs/queue:Queue", name: "q", props: { tags: { Owner: "platform" } }, provider: untagged },
      { type: "aws:s3/bucket:Bucket", name: "b", props: { tags: { CostCenter: " " } }, provider: { ...tagged, props: { defaultTags: { tags: { Owner: "platform" } } } } },
    ];
    expect(await checkStack(net.ownershipTags, resources)).toEqual([
      {
        message: 'aws:sqs/queue:Queue "q" (created through provider "default_7_48_0") lacks CostCenter: create it with the stack\'s aws provider, whose defaultTags carry them, or set them in its tags.',
        urn: urnOf("aws:sqs/queue:Queue", "q"),
      },
      {
        message: 'aws:s3/bucket:Bucket "b" (created through provider "aws") lacks CostCenter: create it with the stack\'s aws provider, whose defaultTags carry them, or set them in its tags.',
        urn: urnOf("aws:s3/bucket:Bucket", "b"),
      },
    ]);
  });
});
