// Every trust policy of both stacks, evaluated by the IAM simulator against the AssumeRole request the trusted
// service sends (test/iam-simulation.ts): the right caller is allowed, every near miss is refused.
import { podIdentityTrustPolicy } from "../components/pod-identity";
import { associations, decide, eksClusterArn, OTHER_ACCOUNT, podIdentityAssume, podIdentityContext, programRoles, type ProgramRole } from "./iam-simulation";
import { ACCOUNT, type RecordingMocks } from "./mocks";
import { runProgram, TEST_REGION } from "./program";

/** The Pod Identity roles each stack has, by role resource name → the service account that must hold it. */
const POD_IDENTITY_ROLES = {
  "karpenter-controller": { namespace: "kube-system", serviceAccount: "karpenter" },
  "autoscaling-keda-operator": { namespace: "keda", serviceAccount: "keda-operator" },
  "load-balancer-controller-role": { namespace: "kube-system", serviceAccount: "aws-load-balancer-controller" },
  "workloads-ingest": { namespace: "eventstack", serviceAccount: "ingest" },
  "workloads-processor": { namespace: "eventstack", serviceAccount: "processor" },
  "workloads-migrate": { namespace: "eventstack", serviceAccount: "migrate" },
  "collector-collector": { namespace: "observability", serviceAccount: "otel-collector" },
  "grafana-grafana": { namespace: "observability", serviceAccount: "grafana" },
  "cloudwatch-exporter-role": { namespace: "observability", serviceAccount: "cloudwatch-exporter" },
  "container-logs-fluent-bit": { namespace: "observability", serviceAccount: "fluent-bit" },
  // The canary analyses read the stack's AMP workspace by default (delivery.analysisPrometheusUrl "").
  "progressive-delivery-controller": { namespace: "argo-rollouts", serviceAccount: "argo-rollouts" },
} as const;

/** Every other role, by the service that assumes it. */
const SERVICE_ROLES = {
  "cluster-role": "eks.amazonaws.com",
  "cluster-system-node": "ec2.amazonaws.com",
  "karpenter-node": "ec2.amazonaws.com",
  "network-flow-logs": "vpc-flow-logs.amazonaws.com",
} as const;

describe.each(["dev", "prod"] as const)("%s stack", (stack) => {
  let mocks: RecordingMocks;
  let roles: Record<string, ProgramRole>;
  let clusterArn: string;
  beforeAll(async () => {
    ({ mocks } = await runProgram(stack));
    roles = programRoles(mocks);
    clusterArn = eksClusterArn(mocks);
  });

  test("every role of the program is one of these, so none escapes evaluation", () => {
    expect(Object.keys(roles).sort()).toEqual([...Object.keys(POD_IDENTITY_ROLES), ...Object.keys(SERVICE_ROLES)].sort());
    expect(clusterArn).toBe(`arn:aws:eks:${TEST_REGION}:${ACCOUNT}:cluster/eventstack-${stack}`);
  });

  describe.each(Object.entries(POD_IDENTITY_ROLES))("Pod Identity role %s", (roleName, subject) => {
    let role: ProgramRole;
    beforeAll(() => {
      role = roles[roleName]!;
    });
    const assume = (context: Record<string, string | string[]>) => podIdentityAssume(role.trust, role.arn, context);

    test("its association binds it to exactly that service account on this cluster", () => {
      const bound = associations(mocks).filter((a) => a.roleArn === role.arn);
      expect(bound.map(({ clusterName, namespace, serviceAccount }) => ({ clusterName, namespace, serviceAccount }))).toEqual([
        { clusterName: `eventstack-${stack}`, ...subject },
      ]);
    });

    test("Pod Identity gets a session for that service account on this cluster, whether or not it sends aws:SourceAccount", async () => {
      expect(await assume(podIdentityContext({ clusterArn, ...subject }))).toBe("Allowed");
      expect(await assume(podIdentityContext({ clusterArn, ...subject }, ACCOUNT))).toBe("Allowed");
    });

    test("another namespace, service account, cluster or account, or a session without tags, is refused", async () => {
      const refused = {
        namespace: await assume(podIdentityContext({ clusterArn, ...subject, namespace: "default" })),
        serviceAccount: await assume(podIdentityContext({ clusterArn, ...subject, serviceAccount: "default" })),
        // The other stack's cluster in the same account, and a cluster of the same name in another account.
        cluster: await assume(podIdentityContext({ ...subject, clusterArn: clusterArn.replace(`eventstack-${stack}`, stack === "dev" ? "eventstack-prod" : "eventstack-dev") })),
        clusterOfAnotherAccount: await assume(podIdentityContext({ ...subject, clusterArn: clusterArn.replace(ACCOUNT, OTHER_ACCOUNT) })),
        sourceAccount: await assume(podIdentityContext({ clusterArn, ...subject }, OTHER_ACCOUNT)),
        // An association created with session tags disabled.
        noTags: await assume({}),
      };
      expect(refused).toEqual({
        namespace: "ImplicitlyDenied",
        serviceAccount: "ImplicitlyDenied",
        cluster: "ImplicitlyDenied",
        clusterOfAnotherAccount: "ImplicitlyDenied",
        sourceAccount: "ImplicitlyDenied",
        noTags: "ImplicitlyDenied",
      });
    });

    test("no other service and no principal of the account may assume it", async () => {
      const context = podIdentityContext({ clusterArn, ...subject });
      expect(await decide({ principal: "ec2.amazonaws.com", action: "sts:AssumeRole", resource: role.arn, context, resourcePolicy: role.trust })).toBe("ImplicitlyDenied");
      expect(await decide({ principal: `arn:aws:iam::${ACCOUNT}:role/admin`, action: "sts:AssumeRole", resource: role.arn, context, resourcePolicy: role.trust })).toBe(
        "ImplicitlyDenied",
      );
    });
  });

  describe.each(Object.entries(SERVICE_ROLES))("service role %s", (roleName, service) => {
    test(`${service} may assume it, no other service may`, async () => {
      const role = roles[roleName]!;
      const base = { action: "sts:AssumeRole", resource: role.arn, resourcePolicy: role.trust };
      // The flow logs service names the flow log it delivers for (aws:SourceAccount, aws:SourceArn).
      const context: Record<string, string> =
        service === "vpc-flow-logs.amazonaws.com" ? { "aws:SourceAccount": ACCOUNT, "aws:SourceArn": `arn:aws:ec2:${TEST_REGION}:${ACCOUNT}:vpc-flow-log/fl-0123456789abcdef0` } : {};
      expect(await decide({ ...base, principal: service, context })).toBe("Allowed");
      expect(await decide({ ...base, principal: "pods.eks.amazonaws.com", context })).toBe("ImplicitlyDenied");
      expect(await decide({ ...base, principal: "lambda.amazonaws.com", context })).toBe("ImplicitlyDenied");
    });
  });

  test("the flow-log role is assumed only for this account's flow logs in this region", async () => {
    const role = roles["network-flow-logs"]!;
    const assume = (context: Record<string, string>) =>
      decide({ principal: "vpc-flow-logs.amazonaws.com", action: "sts:AssumeRole", resource: role.arn, context, resourcePolicy: role.trust });
    const flowLog = (account: string, region = TEST_REGION) => `arn:aws:ec2:${region}:${account}:vpc-flow-log/fl-0123456789abcdef0`;
    expect({
      otherAccount: await assume({ "aws:SourceAccount": OTHER_ACCOUNT, "aws:SourceArn": flowLog(OTHER_ACCOUNT) }),
      otherRegion: await assume({ "aws:SourceAccount": ACCOUNT, "aws:SourceArn": flowLog(ACCOUNT, "us-east-1") }),
      notAFlowLog: await assume({ "aws:SourceAccount": ACCOUNT, "aws:SourceArn": `arn:aws:ec2:${TEST_REGION}:${ACCOUNT}:vpc/vpc-0123` }),
      noSource: await assume({}),
    }).toEqual({ otherAccount: "ImplicitlyDenied", otherRegion: "ImplicitlyDenied", notAFlowLog: "ImplicitlyDenied", noSource: "ImplicitlyDenied" });
  });
});

describe("the check catches the class of defect it is for", () => {
  const clusterArn = `arn:aws:eks:${TEST_REGION}:${ACCOUNT}:cluster/eventstack-dev`;
  const subject = { clusterArn, namespace: "kube-system", serviceAccount: "karpenter" };
  const roleArn = `arn:aws:iam::${ACCOUNT}:role/karpenter-controller`;

  test("a trust conditioned on aws:SourceArn, which Pod Identity does not send, is never assumable", async () => {
    const sourceArnTrust = {
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: "pods.eks.amazonaws.com" },
          Action: ["sts:AssumeRole", "sts:TagSession"],
          Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT }, ArnEquals: { "aws:SourceArn": clusterArn } },
        },
      ],
    };
    expect(await podIdentityAssume(sourceArnTrust, roleArn, podIdentityContext(subject, ACCOUNT))).toBe("ImplicitlyDenied");
    expect(await podIdentityAssume(podIdentityTrustPolicy(subject), roleArn, podIdentityContext(subject, ACCOUNT))).toBe("Allowed");
  });

  test("a trust without sts:TagSession refuses Pod Identity, which always tags its sessions", async () => {
    const trust = podIdentityTrustPolicy(subject);
    const withoutTagSession = { ...trust, Statement: [{ ...trust.Statement[0]!, Action: ["sts:AssumeRole"] }] };
    expect(await podIdentityAssume(withoutTagSession, roleArn, podIdentityContext(subject))).toBe("ImplicitlyDenied");
  });
});
