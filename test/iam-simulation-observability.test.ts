// The observability roles and resource policies of both stacks, evaluated by the IAM simulator (test/iam-simulation.ts):
// the collector writes to its workspace only and sends spans in its region only, the CloudWatch exporter reads metrics,
// tags and the API Gateway collections of its region only and writes nothing, Grafana and the Argo Rollouts
// controller (the canary analyses) read its workspace only, the
// log agent writes the program's two log groups only; the alert topic takes AMP's alerts from this workspace and
// CloudWatch's from this stack's alarms only; the observability key serves CloudWatch Logs for the container log
// groups only. Trust is evaluated with every other Pod Identity role in test/iam-simulation-trust.test.ts.
import { decide, OTHER_ACCOUNT, programRoles, sessionOf, type Context, type Decision, type Policy, type ProgramRole } from "./iam-simulation";
import { ACCOUNT, type RecordingMocks } from "./mocks";
import { runProgram, TEST_REGION } from "./program";

type Case = [action: string, resource: string, context?: Context];

describe.each(["dev", "prod"] as const)("%s stack", (stack) => {
  const id = `eventstack-${stack}`;
  let mocks: RecordingMocks;
  let roles: Record<string, ProgramRole>;
  let arn: Record<string, string>;

  beforeAll(async () => {
    ({ mocks } = await runProgram(stack));
    roles = programRoles(mocks);
    const state = (type: string, name: string) => mocks.get(type, name).state;
    const workspace = state("aws:amp/workspace:Workspace", "metrics-workspace").arn as string;
    arn = {
      workspace,
      otherWorkspace: workspace.replace(/ws-[^/]+$/, "ws-00000000-1111-2222-3333-444444444444"),
      application: state("aws:cloudwatch/logGroup:LogGroup", "container-logs-application").arn,
      platform: state("aws:cloudwatch/logGroup:LogGroup", "container-logs-platform").arn,
      flowLogs: state("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs").arn,
      topic: state("aws:sns/topic:Topic", "alerting-topic").arn,
      key: state("aws:kms/key:Key", "metrics-key").arn,
    };
  });

  const asRole = (roleName: string) => async ([action, resource, context]: Case): Promise<Decision> =>
    decide({
      principal: sessionOf(roles[roleName]!.arn),
      action,
      resource,
      resourceAccount: resource.split(":")[4] || ACCOUNT,
      context: { "aws:SecureTransport": "true", "aws:RequestedRegion": TEST_REGION, ...context },
      identity: Object.values(roles[roleName]!.inline),
    });
  const decisions = async (roleName: string, cases: Case[]) => Object.fromEntries(await Promise.all(cases.map(async (c) => [`${c[0]} ${c[1]} ${JSON.stringify(c[2] ?? {})}`, await asRole(roleName)(c)])));
  const expectAll = async (roleName: string, expected: Decision, cases: () => Case[]) => {
    const got = await decisions(roleName, cases());
    expect(got).toEqual(Object.fromEntries(Object.keys(got).map((k) => [k, expected])));
  };

  describe("the collector", () => {
    test("remote-writes to this workspace and sends spans to X-Ray in this region", () =>
      expectAll("collector-collector", "Allowed", () => [
        ["aps:RemoteWrite", arn.workspace!],
        ["xray:PutTraceSegments", "*"],
        ["xray:PutTelemetryRecords", "*"],
      ]));
    test("no other workspace, account, action or region", () =>
      expectAll("collector-collector", "ImplicitlyDenied", () => [
        ["aps:RemoteWrite", arn.otherWorkspace!],
        ["aps:RemoteWrite", arn.workspace!.replace(ACCOUNT, OTHER_ACCOUNT)],
        ["aps:QueryMetrics", arn.workspace!],
        ["aps:DeleteWorkspace", arn.workspace!],
        ["xray:PutTraceSegments", "*", { "aws:RequestedRegion": "us-east-1" }],
        ["xray:GetTraceSummaries", "*"],
        ["logs:PutLogEvents", `${arn.application}:log-stream:x`],
      ]));
  });

  describe("the CloudWatch exporter", () => {
    const restApis = (region: string) => `arn:aws:apigateway:${region}::/restapis`;
    test("reads metrics and finds tagged resources in this region, lists the region's REST APIs", () =>
      expectAll("cloudwatch-exporter-role", "Allowed", () => [
        ["cloudwatch:GetMetricData", "*"],
        ["cloudwatch:ListMetrics", "*"],
        ["tag:GetResources", "*"],
        ["apigateway:GET", restApis(TEST_REGION)],
      ]));
    // The simulator's data lists no resource type of apigateway:GET for the HTTP APIs' collection (`/apis`, the
    // Service Authorization Reference's "Amazon API Gateway Management V2" page) and refuses to evaluate it, so that
    // ARN is asserted as written: the region's collection, nothing below it.
    test("lists the region's HTTP APIs (asserted: not simulable)", () => {
      const statement = Object.values(roles["cloudwatch-exporter-role"]!.inline)
        .flatMap((p) => p.Statement)
        .find((s: any) => s.Sid === "ListApiGatewayApisOfThisRegion");
      expect(statement).toEqual({ Sid: "ListApiGatewayApisOfThisRegion", Effect: "Allow", Action: "apigateway:GET", Resource: [restApis(TEST_REGION), `arn:aws:apigateway:${TEST_REGION}::/apis`] });
    });
    test("no other region, no write, nothing below an API, nothing else", () =>
      expectAll("cloudwatch-exporter-role", "ImplicitlyDenied", () => [
        ["cloudwatch:GetMetricData", "*", { "aws:RequestedRegion": "us-east-1" }],
        ["cloudwatch:ListMetrics", "*", { "aws:RequestedRegion": "us-east-1" }],
        ["tag:GetResources", "*", { "aws:RequestedRegion": "us-east-1" }],
        ["apigateway:GET", restApis("us-east-1"), { "aws:RequestedRegion": "us-east-1" }],
        ["apigateway:GET", `${restApis(TEST_REGION)}/a1b2c3d4e5`],
        ["apigateway:GET", `${restApis(TEST_REGION)}/a1b2c3d4e5/stages/prod`],
        ["apigateway:POST", restApis(TEST_REGION)],
        ["apigateway:DELETE", `${restApis(TEST_REGION)}/a1b2c3d4e5`],
        ["cloudwatch:PutMetricData", "*"],
        ["cloudwatch:GetMetricStatistics", "*"],
        ["cloudwatch:DeleteAlarms", `arn:aws:cloudwatch:${TEST_REGION}:${ACCOUNT}:alarm:${id}-aurora-cpu`],
        ["tag:TagResources", "*"],
        ["aps:RemoteWrite", arn.workspace!],
        ["logs:GetLogEvents", `${arn.application}:log-stream:x`],
      ]));
  });

  describe("Grafana", () => {
    test("queries, series, labels and metadata of this workspace", () =>
      expectAll("grafana-grafana", "Allowed", () => ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"].map((a): Case => [a, arn.workspace!])));
    test("no write, no other workspace", () =>
      expectAll("grafana-grafana", "ImplicitlyDenied", () => [
        ["aps:RemoteWrite", arn.workspace!],
        ["aps:QueryMetrics", arn.otherWorkspace!],
        ["aps:GetSeries", arn.workspace!.replace(ACCOUNT, OTHER_ACCOUNT)],
        ["aps:PutRuleGroupsNamespace", `${arn.workspace}`.replace(":workspace/", ":rulegroupsnamespace/") + "/x"],
      ]));
  });

  // The canary analyses read this workspace by default (components/progressive-delivery.ts, analysisPrometheus).
  describe("the Argo Rollouts controller", () => {
    test("queries, series, labels and metadata of this workspace", () =>
      expectAll("progressive-delivery-controller", "Allowed", () => ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"].map((a): Case => [a, arn.workspace!])));
    test("no write, no other workspace, no other account", () =>
      expectAll("progressive-delivery-controller", "ImplicitlyDenied", () => [
        ["aps:RemoteWrite", arn.workspace!],
        ["aps:QueryMetrics", arn.otherWorkspace!],
        ["aps:GetSeries", arn.otherWorkspace!],
        ["aps:QueryMetrics", arn.workspace!.replace(ACCOUNT, OTHER_ACCOUNT)],
        ["aps:DeleteWorkspace", arn.workspace!],
      ]));
  });

  describe("the log agent", () => {
    test("streams and events in the two container log groups", () =>
      expectAll("container-logs-fluent-bit", "Allowed", () =>
        [arn.application!, arn.platform!].flatMap((g): Case[] => [
          ["logs:CreateLogStream", `${g}:log-stream:node-1.ingest`],
          ["logs:DescribeLogStreams", g],
          ["logs:PutLogEvents", `${g}:log-stream:node-1.ingest`],
        ]),
      ));
    test("no group creation, no other group, no reading", () =>
      expectAll("container-logs-fluent-bit", "ImplicitlyDenied", () => [
        ["logs:CreateLogGroup", `arn:aws:logs:${TEST_REGION}:${ACCOUNT}:log-group:/eventstack/${id}/containers/other`],
        ["logs:PutLogEvents", `${arn.flowLogs}:log-stream:x`],
        ["logs:CreateLogStream", `${arn.flowLogs}:log-stream:x`],
        ["logs:DescribeLogStreams", arn.flowLogs!],
        ["logs:GetLogEvents", `${arn.application}:log-stream:x`],
        ["logs:PutRetentionPolicy", arn.application!],
        ["logs:DeleteLogGroup", arn.application!],
      ]));
  });

  describe("the alert topic's policy", () => {
    const policy = (): Policy => JSON.parse(mocks.get("aws:sns/topicPolicy:TopicPolicy", "alerting-topic-policy").inputs.policy);
    const publish = (principal: string, context: Context) => decide({ principal, action: "sns:Publish", resource: arn.topic!, context, resourcePolicy: policy() });
    const alarm = (name: string) => `arn:aws:cloudwatch:${TEST_REGION}:${ACCOUNT}:alarm:${name}`;

    test("AMP publishes for this workspace, CloudWatch for this stack's alarms", async () => {
      expect(await publish("aps.amazonaws.com", { "aws:SourceAccount": ACCOUNT, "aws:SourceArn": arn.workspace! })).toBe("Allowed");
      expect(await publish("cloudwatch.amazonaws.com", { "aws:SourceAccount": ACCOUNT, "aws:SourceArn": alarm(`${id}-aurora-cpu`) })).toBe("Allowed");
    });

    test("another workspace, another stack's alarm, another account or another service is refused", async () => {
      const other = stack === "dev" ? "eventstack-prod" : "eventstack-dev";
      expect(await publish("aps.amazonaws.com", { "aws:SourceAccount": ACCOUNT, "aws:SourceArn": arn.otherWorkspace! })).toBe("ImplicitlyDenied");
      expect(await publish("aps.amazonaws.com", { "aws:SourceAccount": OTHER_ACCOUNT, "aws:SourceArn": arn.workspace!.replace(ACCOUNT, OTHER_ACCOUNT) })).toBe("ImplicitlyDenied");
      expect(await publish("aps.amazonaws.com", {})).toBe("ImplicitlyDenied");
      expect(await publish("cloudwatch.amazonaws.com", { "aws:SourceAccount": ACCOUNT, "aws:SourceArn": alarm(`${other}-aurora-cpu`) })).toBe("ImplicitlyDenied");
      expect(await publish("events.amazonaws.com", { "aws:SourceAccount": ACCOUNT })).toBe("ImplicitlyDenied");
      expect(await decide({ principal: "aps.amazonaws.com", action: "sns:Subscribe", resource: arn.topic!, context: { "aws:SourceAccount": ACCOUNT, "aws:SourceArn": arn.workspace! }, resourcePolicy: policy() })).toBe(
        "ImplicitlyDenied",
      );
    });
  });

  describe("the observability key's policy", () => {
    const policy = (): Policy => JSON.parse(mocks.get("aws:kms/key:Key", "metrics-key").inputs.policy);
    const logs = `logs.${TEST_REGION}.amazonaws.com`;

    // The simulator cannot evaluate this statement: it drops a kms:EncryptionContext:<key> whose key has colons
    // (CloudWatch Logs sends aws:logs:arn) as an unknown context key, so every such request is denied whatever the
    // policy says. The statement is asserted exactly instead; what it admits is CloudWatch Logs' documented request.
    test("CloudWatch Logs may use the key for the container log groups only (asserted: not simulable)", () => {
      const statement = policy().Statement.find((s: any) => s.Sid === "CloudWatchLogsForTheContainerLogGroups");
      expect(statement).toEqual({
        Sid: "CloudWatchLogsForTheContainerLogGroups",
        Effect: "Allow",
        Principal: { Service: logs },
        Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        Resource: "*",
        Condition: { StringLike: { "kms:EncryptionContext:aws:logs:arn": `arn:aws:logs:${TEST_REGION}:${ACCOUNT}:log-group:/eventstack/${id}/containers/*` } },
      });
      // The two groups the program encrypts with it are under that prefix; the flow logs' group is not.
      for (const g of [arn.application!, arn.platform!]) expect(g.startsWith(`arn:aws:logs:${TEST_REGION}:${ACCOUNT}:log-group:/eventstack/${id}/containers/`)).toBe(true);
      expect(arn.flowLogs!.includes("/containers/")).toBe(false);
    });

    test("alert publishers of this account may generate data keys and decrypt, nothing more; another account gets nothing", async () => {
      const asService = (principal: string, action: string, sourceAccount: string) =>
        decide({ principal, action, resource: arn.key!, context: { "aws:SourceAccount": sourceAccount }, resourcePolicy: policy() });
      for (const principal of ["aps.amazonaws.com", "cloudwatch.amazonaws.com"]) {
        expect([principal, await asService(principal, "kms:GenerateDataKey", ACCOUNT), await asService(principal, "kms:Decrypt", ACCOUNT)]).toEqual([principal, "Allowed", "Allowed"]);
        expect([principal, await asService(principal, "kms:GenerateDataKey", OTHER_ACCOUNT), await asService(principal, "kms:CreateGrant", ACCOUNT)]).toEqual([principal, "ImplicitlyDenied", "ImplicitlyDenied"]);
      }
      expect(await asService("sns.amazonaws.com", "kms:Decrypt", ACCOUNT)).toBe("ImplicitlyDenied");
    });
  });
});
