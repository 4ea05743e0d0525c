// Observability on AWS, over both stacks as index.ts wires it (docs/observability-aws.md): the AMP workspace and its
// key, the rule files, the alert topic and its policy, the CloudWatch alarms, the collector (what it scrapes, how it
// samples, where it writes), Grafana, the container log groups and agent, MSK open monitoring, the services' OTLP
// environment, the NetworkPolicies and Linkerd objects that admit exactly this traffic, and the new Kubernetes objects'
// schemas.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { readRuleFiles } from "../components/observability/metrics";
import { alertManagerDefinition } from "../components/observability/alerting";
import { loadBalancerDimension, targetGroupDimension } from "../components/observability/alarms";
import { brokerHosts, collectorConfig } from "../components/observability/collector-config";
import { VERSIONS } from "../components/versions";
import { objectOf, validateK8sObjects } from "./k8s-schema";
import { ACCOUNT, type RecordedResource, type RecordingMocks } from "./mocks";
import { ROOT, runProgram, TEST_REGION } from "./program";

const SECRET = "4dabf18193072939515e22adb298388d";
const unwrap = (v: any): any => (v && typeof v === "object" && SECRET in v ? v.value : v);
const RELEASE = "kubernetes:helm.sh/v3:Release";
const urnOf = (r: RecordedResource) => expect.stringMatching(new RegExp(`[$:]${r.type.replace(/[/.$]/g, "\\$&")}::${r.name}$`));

describe.each(["dev", "prod"] as const)("%s stack", (stack) => {
  const id = `eventstack-${stack}`;
  let mocks: RecordingMocks;
  let outputs: Record<string, any>;
  beforeAll(async () => {
    ({ mocks, outputs } = await runProgram(stack));
  });
  const get = (type: string, name: string) => mocks.get(type, name);
  const release = (name: string) => get(RELEASE, name).inputs;
  const keyArn = () => get("aws:kms/key:Key", "metrics-key").state.arn as string;
  const workspace = () => get("aws:amp/workspace:Workspace", "metrics-workspace").state;

  describe("metrics: the AMP workspace, its key and its rules", () => {
    test("the workspace is encrypted with the stack's observability key, which rotates", () => {
      expect(get("aws:amp/workspace:Workspace", "metrics-workspace").inputs).toMatchObject({ alias: id, kmsKeyArn: keyArn() });
      expect(get("aws:kms/key:Key", "metrics-key").inputs).toMatchObject({ enableKeyRotation: true, deletionWindowInDays: 30 });
      expect(get("aws:kms/alias:Alias", "metrics-key-alias").inputs.name).toBe(`alias/${id}/observability`);
      expect(outputs.prometheusWorkspaceArn).toBe(workspace().arn);
      expect(workspace().arn).toMatch(new RegExp(`^arn:aws:aps:${TEST_REGION}:${ACCOUNT}:workspace/ws-`));
    });

    test("one rule groups namespace per rule file, holding the file's text", () => {
      const dir = path.join(ROOT, "observability", "rules");
      const files = readdirSync(dir).filter((f) => f.endsWith(".rules.yaml")).sort();
      expect(files.length).toBeGreaterThan(0);
      const namespaces = mocks.ofType("aws:amp/ruleGroupNamespace:RuleGroupNamespace");
      expect(namespaces.map((n) => [n.inputs.name, n.inputs.data, n.inputs.workspaceId])).toEqual(
        files.map((f) => [f.slice(0, -".rules.yaml".length), readFileSync(path.join(dir, f), "utf8"), workspace().id]),
      );
    });
  });

  describe("alerting: the topic, its policy, the alert manager", () => {
    test("the topic is KMS-encrypted and exported", () => {
      const topic = get("aws:sns/topic:Topic", "alerting-topic");
      expect(topic.inputs).toMatchObject({ name: `${id}-alerts`, kmsMasterKeyId: keyArn() });
      expect(outputs.alertTopicArn).toBe(`arn:aws:sns:${TEST_REGION}:${ACCOUNT}:${id}-alerts`);
    });

    test("only AMP for this workspace and CloudWatch for this stack's alarms may publish", () => {
      const policy = JSON.parse(get("aws:sns/topicPolicy:TopicPolicy", "alerting-topic-policy").inputs.policy);
      const topicArn = outputs.alertTopicArn;
      expect(policy.Statement).toEqual([
        {
          Sid: "PrometheusAlertManagerOfThisWorkspace",
          Effect: "Allow",
          Principal: { Service: "aps.amazonaws.com" },
          Action: ["sns:Publish", "sns:GetTopicAttributes"],
          Resource: topicArn,
          Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT }, ArnEquals: { "aws:SourceArn": workspace().arn } },
        },
        {
          Sid: "CloudWatchAlarmsOfThisStack",
          Effect: "Allow",
          Principal: { Service: "cloudwatch.amazonaws.com" },
          Action: "sns:Publish",
          Resource: topicArn,
          Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT }, ArnLike: { "aws:SourceArn": `arn:aws:cloudwatch:${TEST_REGION}:${ACCOUNT}:alarm:${id}-*` } },
        },
      ]);
    });

    test("the alert manager sends every alert to the topic, signed in the region, after the topic policy exists", () => {
      const definition = get("aws:amp/alertManagerDefinition:AlertManagerDefinition", "alerting-alert-manager");
      expect(definition.inputs.workspaceId).toBe(workspace().id);
      const config = parse(parse(definition.inputs.definition).alertmanager_config);
      expect(config.route).toMatchObject({ receiver: "sns", group_by: ["alertname"] });
      expect(config.receivers).toEqual([
        { name: "sns", sns_configs: [{ topic_arn: outputs.alertTopicArn, sigv4: { region: TEST_REGION }, attributes: { severity: "{{ .CommonLabels.severity }}" } }] },
      ]);
      expect(definition.dependencies).toContainEqual(urnOf(get("aws:sns/topicPolicy:TopicPolicy", "alerting-topic-policy")));
    });

    test("no subscription without observability.alertEmails", () => {
      expect(mocks.ofType("aws:sns/topicSubscription:TopicSubscription")).toEqual([]);
    });
  });

  describe("CloudWatch alarms", () => {
    const alarm = (key: string) => get("aws:cloudwatch/metricAlarm:MetricAlarm", `alarms-${key}`).inputs;
    const brokers = stack === "prod" ? 6 : 3;
    const cacheNodes = stack === "prod" ? 2 : 1;

    test("one per concern, each named with the stack prefix, each to the alert topic on ALARM and OK", () => {
      const alarms = mocks.ofType("aws:cloudwatch/metricAlarm:MetricAlarm");
      // offline partitions, 2 per broker, 3 Aurora, 2 per cache node, 2 API, 1 NLB
      expect(alarms).toHaveLength(1 + 2 * brokers + 3 + 2 * cacheNodes + 2 + 1);
      for (const a of alarms) {
        expect([a.name, a.inputs.name.startsWith(`${id}-`), a.inputs.alarmActions, a.inputs.okActions]).toEqual([a.name, true, [outputs.alertTopicArn], [outputs.alertTopicArn]]);
      }
    });

    test("MSK: offline and under-min-ISR partitions at > 0, each broker's data disk above 85%", () => {
      expect(alarm("kafka-offline-partitions")).toMatchObject({ namespace: "AWS/Kafka", metricName: "OfflinePartitionsCount", dimensions: { "Cluster Name": id }, threshold: 0, comparisonOperator: "GreaterThanThreshold" });
      expect(alarm(`kafka-broker-${brokers}-under-min-isr`)).toMatchObject({ metricName: "UnderMinIsrPartitionCount", dimensions: { "Cluster Name": id, "Broker ID": String(brokers) }, threshold: 0 });
      expect(alarm("kafka-broker-1-disk")).toMatchObject({ metricName: "KafkaDataLogsDiskUsed", threshold: 85 });
    });

    test("Aurora, ElastiCache, API Gateway and the NLB", () => {
      expect(alarm("aurora-acu-utilization")).toMatchObject({ namespace: "AWS/RDS", metricName: "ACUUtilization", dimensions: { DBClusterIdentifier: id }, threshold: 90 });
      expect(alarm("aurora-connections")).toMatchObject({ metricName: "DatabaseConnections", threshold: 800 });
      expect(alarm("aurora-cpu")).toMatchObject({ metricName: "CPUUtilization", threshold: 80 });
      expect(alarm(`cache-00${cacheNodes}-memory`)).toMatchObject({ namespace: "AWS/ElastiCache", metricName: "DatabaseMemoryUsagePercentage", dimensions: { CacheClusterId: `${id}-00${cacheNodes}` }, threshold: 80 });
      expect(alarm("cache-001-evictions")).toMatchObject({ metricName: "Evictions", statistic: "Sum", threshold: 0 });
      const apiId = get("aws:apigatewayv2/api:Api", "edge-api").state.id;
      expect(alarm("api-p99-latency")).toMatchObject({ namespace: "AWS/ApiGateway", metricName: "Latency", extendedStatistic: "p99", dimensions: { ApiId: apiId, Stage: "$default" }, threshold: 2000 });
      expect(alarm("api-5xx-rate").metricQueries.map((q: any) => q.metric?.metricName ?? q.expression)).toEqual(["5xx", "Count", "100 * errors / MAX([requests, 1])"]);
      const nlb = alarm("nlb-unhealthy-targets");
      expect(nlb).toMatchObject({ namespace: "AWS/NetworkELB", metricName: "UnHealthyHostCount", threshold: 0 });
      expect(nlb.dimensions.TargetGroup).toMatch(/^targetgroup\/[^/]+\/[0-9a-f]{16}$/);
      expect(nlb.dimensions.LoadBalancer).toMatch(/^net\/[^/]+\/[0-9a-f]{16}$/);
    });
  });

  describe("the collector", () => {
    const values = () => unwrap(release("collector-collector").values);
    const config = () => values().alternateConfig;

    test("the pinned chart, the contrib image, one replica on the workload nodes, meshed, hardened", () => {
      const r = release("collector-collector");
      expect([r.chart, r.version, r.repositoryOpts.repo]).toEqual([VERSIONS.charts.openTelemetryCollector.chart, "0.170.0", "https://open-telemetry.github.io/opentelemetry-helm-charts"]);
      expect(values()).toMatchObject({
        mode: "deployment",
        replicaCount: 1,
        image: { repository: "otel/opentelemetry-collector-contrib" },
        nodeSelector: { "kubernetes.io/os": "linux", "eventstack.io/pool": "workloads" },
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] }, runAsNonRoot: true },
      });
      expect(values().podAnnotations).toEqual({
        "linkerd.io/inject": "enabled",
        "config.linkerd.io/default-inbound-policy": "all-authenticated",
        "config.linkerd.io/skip-outbound-ports": "443,11001,11002",
      });
      // Only OTLP/HTTP is served.
      expect(Object.entries(values().ports).filter(([, p]: any) => p.enabled).map(([k]) => k)).toEqual(["otlp-http"]);
    });

    test("scrapes the services, the proxies, KEDA, Karpenter, kube-state-metrics, node exporters and every MSK broker's two exporters", () => {
      const jobs = config().receivers.prometheus.config.scrape_configs;
      expect(jobs.map((j: any) => j.job_name)).toEqual(["ingest", "processor", "linkerd-proxy", "keda", "karpenter", "kube-state-metrics", "node-exporter", "cloudwatch", "msk-jmx", "msk-node"]);
      const hosts = brokerHosts(get("aws:msk/cluster:Cluster", "kafka-cluster").state.bootstrapBrokersSaslIam);
      expect(jobs[8].static_configs[0].targets).toEqual(hosts.map((h) => `${h}:11001`));
      expect(jobs[9].static_configs[0].targets).toEqual(hosts.map((h) => `${h}:11002`));
      // The CloudWatch exporter's pods in the collector's namespace, on the chart's port `http`.
      expect(jobs[7]).toMatchObject({ kubernetes_sd_configs: [{ role: "pod", namespaces: { names: ["observability"] } }] });
      expect(jobs[7].relabel_configs.slice(0, 2)).toEqual([
        { source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], regex: "yet-another-cloudwatch-exporter", action: "keep" },
        { source_labels: ["__meta_kubernetes_pod_container_port_name"], regex: "http", action: "keep" },
      ]);
      expect(jobs[0].relabel_configs.slice(0, 2)).toEqual([
        { source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"], regex: "ingest", action: "keep" },
        { source_labels: ["__meta_kubernetes_pod_container_port_name"], regex: "http", action: "keep" },
      ]);
      expect(config().receivers.prometheus.config.global.scrape_interval).toBe("30s");
    });

    test("metrics to the workspace signed with SigV4, spans tail-sampled to X-Ray", () => {
      const c = config();
      expect(c.exporters).toEqual({
        prometheusremotewrite: { endpoint: `${workspace().prometheusEndpoint}api/v1/remote_write`, auth: { authenticator: "sigv4auth" } },
        awsxray: { region: TEST_REGION },
      });
      expect(c.extensions.sigv4auth).toEqual({ region: TEST_REGION, service: "aps" });
      expect(c.receivers.otlp).toEqual({ protocols: { http: { endpoint: "${env:MY_POD_IP}:4318" } } });
      expect(c.processors.tail_sampling.policies).toEqual([
        { name: "errors", type: "status_code", status_code: { status_codes: ["ERROR"] } },
        { name: "slow", type: "latency", latency: { threshold_ms: 1000 } },
        { name: "share-of-the-rest", type: "probabilistic", probabilistic: { sampling_percentage: stack === "dev" ? 100 : 10 } },
      ]);
      expect(c.service.pipelines).toEqual({
        metrics: { receivers: ["prometheus"], processors: ["memory_limiter", "batch"], exporters: ["prometheusremotewrite"] },
        traces: { receivers: ["otlp"], processors: ["memory_limiter", "tail_sampling", "batch"], exporters: ["awsxray"] },
      });
    });

    test("kube-state-metrics and node exporter at their pins; the collector waits for its Pod Identity association and the mesh", () => {
      expect([release("collector-kube-state-metrics").chart, release("collector-kube-state-metrics").version]).toEqual(["kube-state-metrics", "8.4.0"]);
      expect([release("collector-node-exporter").chart, release("collector-node-exporter").version]).toEqual(["prometheus-node-exporter", "4.56.1"]);
      const deps = get(RELEASE, "collector-collector").dependencies;
      expect(deps).toContainEqual(urnOf(get("aws:eks/podIdentityAssociation:PodIdentityAssociation", "collector-collector")));
      expect(deps).toContainEqual(urnOf(get(RELEASE, "mesh-control-plane")));
    });

    test("MSK open monitoring is on, and the brokers admit 11001 and 11002 from the nodes' security group only", () => {
      expect(get("aws:msk/cluster:Cluster", "kafka-cluster").inputs.openMonitoring).toEqual({ prometheus: { jmxExporter: { enabledInBroker: true }, nodeExporter: { enabledInBroker: true } } });
      const sg = get("aws:ec2/securityGroup:SecurityGroup", "kafka-sg").state.id;
      const node = outputs.nodeSecurityGroupId;
      const rules = mocks.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter((r) => r.inputs.securityGroupId === sg);
      expect(rules.map((r) => [r.inputs.fromPort, r.inputs.toPort, r.inputs.referencedSecurityGroupId, r.inputs.cidrIpv4]).sort()).toEqual(
        [
          [9098, 9098, node, undefined],
          [11001, 11001, node, undefined],
          [11002, 11002, node, undefined],
        ].sort(),
      );
    });
  });

  describe("the CloudWatch exporter", () => {
    const values = () => unwrap(release("cloudwatch-exporter-release").values);
    const labels = { "app.kubernetes.io/component": "metrics-exporter", "app.kubernetes.io/part-of": "eventstack", "app.kubernetes.io/managed-by": "Helm" };

    test("the pinned chart and image, one replica on the workload nodes, meshed, hardened, with the recommended labels", () => {
      const r = release("cloudwatch-exporter-release");
      expect([r.name, r.namespace, r.chart, r.version, r.repositoryOpts.repo]).toEqual(["cloudwatch-exporter", "observability", "prometheus-yet-another-cloudwatch-exporter", "0.47.0", "https://prometheus-community.github.io/helm-charts"]);
      expect(values()).toMatchObject({
        fullnameOverride: "cloudwatch-exporter",
        nameOverride: "yet-another-cloudwatch-exporter",
        replicaCount: 1,
        image: { tag: "v0.67.0" },
        serviceAccount: { create: true, name: "cloudwatch-exporter", automountServiceAccountToken: false, labels },
        deployment: { labels },
        podLabels: labels,
        nodeSelector: { "kubernetes.io/os": "linux", "eventstack.io/pool": "workloads" },
        podSecurityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] }, runAsNonRoot: true },
        resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { memory: "256Mi" } },
        testConnection: false,
        extraEnv: [{ name: "AWS_REGION", value: TEST_REGION }],
      });
      expect(values().podAnnotations).toEqual({ "linkerd.io/inject": "enabled", "config.linkerd.io/default-inbound-policy": "all-authenticated", "config.linkerd.io/skip-outbound-ports": "443" });
    });

    test("reads only resources tagged with this stack's Project and Stack, in the stack's region", () => {
      const config = JSON.parse(values().config);
      expect(config["sts-region"]).toBe(TEST_REGION);
      expect(config.discovery.jobs.map((j: any) => j.type)).toEqual(["AWS/RDS", "AWS/ElastiCache", "AWS/Kafka", "AWS/Kafka", "AWS/ApiGateway", "AWS/NetworkELB"]);
      for (const j of config.discovery.jobs) {
        expect([j.type, j.regions, j.searchTags]).toEqual([
          j.type,
          [TEST_REGION],
          [
            { key: "Project", value: "^eventstack$" },
            { key: "Stack", value: `^${stack}$` },
          ],
        ]);
      }
      // The tags it selects by are on every resource it reads: the AWS provider's default tags.
      expect(JSON.parse(get("pulumi:providers:aws", "aws").inputs.defaultTags).tags).toMatchObject({ Project: "eventstack", Stack: stack });
    });

    test("waits for its Pod Identity association and the mesh; its role is the exporter's service account's", () => {
      const deps = get(RELEASE, "cloudwatch-exporter-release").dependencies;
      expect(deps).toContainEqual(urnOf(get("aws:eks/podIdentityAssociation:PodIdentityAssociation", "cloudwatch-exporter-role")));
      expect(deps).toContainEqual(urnOf(get(RELEASE, "mesh-control-plane")));
      expect(get("aws:eks/podIdentityAssociation:PodIdentityAssociation", "cloudwatch-exporter-role").inputs).toMatchObject({ namespace: "observability", serviceAccount: "cloudwatch-exporter" });
    });

    test("its port admits the collector's pods only; it dials DNS, the control plane, the agent and 443", () => {
      const spec = get("kubernetes:networking.k8s.io/v1:NetworkPolicy", "cloudwatch-exporter-network-policy").inputs.spec;
      expect(spec.podSelector).toEqual({ matchLabels: { "app.kubernetes.io/name": "yet-another-cloudwatch-exporter", "app.kubernetes.io/instance": "cloudwatch-exporter" } });
      expect(spec.ingress[0]).toEqual({
        from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": "otel-collector" } } }],
        ports: [
          { protocol: "TCP", port: 5000 },
          { protocol: "TCP", port: 4143 },
        ],
      });
      expect(spec.ingress[1].ports).toEqual([{ protocol: "TCP", port: 4191 }]);
      const ports = spec.egress.flatMap((e: any) => e.ports.map((p: any) => p.port)).sort((a: number, b: number) => a - b);
      expect([...new Set(ports)]).toEqual([53, 80, 443, 8080, 8086, 8090]);
      // CloudWatch, the tagging API and API Gateway have no interface endpoint in either stack: public addresses via NAT.
      expect(spec.egress.filter((e: any) => e.to?.[0]?.ipBlock?.cidr === "0.0.0.0/0")).toEqual([
        { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", expect.any(String)] } }], ports: [{ protocol: "TCP", port: 443 }] },
      ]);
    });
  });

  describe("NetworkPolicies and Linkerd admit exactly the telemetry traffic", () => {
    const policy = (name: string) => get("kubernetes:networking.k8s.io/v1:NetworkPolicy", name).inputs.spec;
    const collectorPeer = {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "observability" } },
      podSelector: { matchLabels: { "app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": "otel-collector" } },
    };

    test("the services may send spans to the collector's 4318 and nothing else new; the collector may scrape their HTTP ports", () => {
      for (const [name, port] of [
        ["ingest", 8080],
        ["processor", 8081],
      ] as const) {
        const spec = policy(`${name}-network-policy`);
        expect(spec.egress.filter((e: any) => JSON.stringify(e).includes("observability"))).toEqual([{ to: [collectorPeer], ports: [{ protocol: "TCP", port: 4318 }] }]);
        expect(spec.ingress.filter((i: any) => JSON.stringify(i).includes("observability"))).toEqual([{ from: [collectorPeer], ports: [{ protocol: "TCP", port }] }]);
      }
    });

    test("the collector takes OTLP from the apps' namespace only, and dials its targets, the control plane, the agent and 443", () => {
      const spec = policy("collector-network-policy");
      expect(spec.podSelector).toEqual({ matchLabels: collectorPeer.podSelector.matchLabels });
      expect(spec.ingress[0]).toEqual({ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "eventstack" } } }], ports: [{ protocol: "TCP", port: 4318 }, { protocol: "TCP", port: 4143 }] });
      const ports = spec.egress.flatMap((e: any) => e.ports.map((p: any) => p.port)).sort((a: number, b: number) => a - b);
      expect([...new Set(ports)]).toEqual([53, 80, 443, 4191, 5000, 8080, 8081, 8086, 8090, 9100, 11001, 11002]);
      // With interface endpoints (prod) HTTPS stays in the VPC; without (dev), public addresses through NAT too.
      expect(spec.egress.some((e: any) => e.to?.[0]?.ipBlock?.cidr === "0.0.0.0/0")).toBe(stack === "dev");
    });

    test("ingest's port admits the collector's mesh identity, exactly its service account", () => {
      const identity = get("kubernetes:policy.linkerd.io/v1alpha1:MeshTLSAuthentication", "ingest-mesh-collector-identity").inputs;
      expect(identity.spec).toEqual({ identityRefs: [{ kind: "ServiceAccount", name: "otel-collector", namespace: "observability" }] });
      const authorization = get("kubernetes:policy.linkerd.io/v1alpha1:AuthorizationPolicy", "ingest-mesh-collector-authorization").inputs;
      expect(authorization.spec).toEqual({
        targetRef: { group: "policy.linkerd.io", kind: "Server", name: get("kubernetes:policy.linkerd.io/v1beta3:Server", "ingest-mesh-server").inputs.metadata.name },
        requiredAuthenticationRefs: [{ group: "policy.linkerd.io", kind: "MeshTLSAuthentication", name: identity.metadata.name }],
      });
    });

    test("both services get the collector's OTLP/HTTP endpoint", () => {
      for (const name of ["ingest", "processor"]) {
        const env = Object.fromEntries(get("kubernetes:argoproj.io/v1alpha1:Rollout", `${name}-rollout`).inputs.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
        expect([name, env.OTEL_EXPORTER_OTLP_ENDPOINT, env.OTEL_EXPORTER_OTLP_PROTOCOL]).toEqual([name, "http://otel-collector.observability.svc.cluster.local:4318", "http/protobuf"]);
      }
    });
  });

  describe("Grafana", () => {
    const values = () => unwrap(release("grafana-grafana").values);

    test("the pinned chart on the system nodes, ClusterIP only, no test pod, no persistence, the admin password from a Secret", () => {
      const r = release("grafana-grafana");
      expect([r.chart, r.version, r.repositoryOpts.repo]).toEqual(["grafana", "12.11.1", "https://grafana-community.github.io/helm-charts"]);
      expect(values()).toMatchObject({
        admin: { existingSecret: "grafana-admin", userKey: "admin-user", passwordKey: "admin-password" },
        service: { type: "ClusterIP" },
        persistence: { enabled: false },
        testFramework: { enabled: false },
        initChownData: { enabled: false },
        nodeSelector: { "eventstack.io/pool": "system" },
        tolerations: [{ key: "CriticalAddonsOnly", operator: "Exists", effect: "NoSchedule" }],
      });
      expect(JSON.stringify(values())).not.toMatch(/adminPassword/);
    });

    test("the password is a Pulumi secret, never plain in the Secret's inputs", () => {
      const secret = get("kubernetes:core/v1:Secret", "grafana-admin").inputs;
      expect(secret.metadata).toMatchObject({ name: "grafana-admin", namespace: "observability" });
      expect(secret.stringData[SECRET]).toBeDefined();
    });

    test("the datasource is the workspace, uid prometheus, SigV4 with the pod's credentials", () => {
      expect(values().datasources["datasources.yaml"].datasources).toEqual([
        {
          name: "Amazon Managed Service for Prometheus",
          uid: "prometheus",
          type: "prometheus",
          access: "proxy",
          url: workspace().prometheusEndpoint.replace(/\/$/, ""),
          isDefault: true,
          jsonData: { httpMethod: "POST", sigV4Auth: true, sigV4AuthType: "default", sigV4Region: TEST_REGION },
        },
      ]);
    });

    test("every dashboard of observability/dashboards is a ConfigMap for the sidecar", () => {
      const { dashboards } = require("../observability/dashboards") as typeof import("../observability/dashboards");
      const maps = mocks.ofType("kubernetes:core/v1:ConfigMap").filter((c) => c.name.startsWith("grafana-dashboard-"));
      expect(maps.map((m) => [m.inputs.metadata.name, m.inputs.metadata.labels.grafana_dashboard, Object.keys(m.inputs.data)])).toEqual(
        dashboards().map((d) => [`dashboard-${d.uid}`, "1", [`${d.uid}.json`]]),
      );
      expect(values().sidecar.dashboards).toMatchObject({ enabled: true, label: "grafana_dashboard", labelValue: "1" });
    });
  });

  describe("container logs", () => {
    test("two KMS-encrypted groups with the stack's retention, and the agent may not create any", () => {
      for (const kind of ["application", "platform"]) {
        expect(get("aws:cloudwatch/logGroup:LogGroup", `container-logs-${kind}`).inputs).toEqual({
          name: `/eventstack/${id}/containers/${kind}`,
          retentionInDays: stack === "dev" ? 7 : 90,
          kmsKeyId: keyArn(),
        });
      }
      const values = unwrap(release("container-logs-fluent-bit").values);
      expect([release("container-logs-fluent-bit").chart, release("container-logs-fluent-bit").version]).toEqual(["fluent-bit", "0.58.1"]);
      expect(values.config.outputs.match(/auto_create_group Off/g)).toHaveLength(2);
      expect(values.config.outputs).toContain(`log_group_name /eventstack/${id}/containers/application`);
      expect(values.tolerations).toEqual([{ operator: "Exists" }]);
    });
  });

  test("every new resource is a child of its component, and every AWS one has the stack's provider", () => {
    const components = mocks.resources.filter((r) => r.type.startsWith("eventstack:observability:"));
    expect(components.map((c) => c.type).sort()).toEqual(
      ["Alarms", "Alerting", "CloudWatchExporter", "Collector", "ContainerLogs", "Grafana", "Metrics"].map((t) => `eventstack:observability:${t}`),
    );
    const urns = new Set(components.map((c) => `urn:pulumi:${stack}::eventstack::${c.type}::${c.name}`));
    const children = mocks.resources.filter((r) => [...urns].some((u) => r.parent === u));
    expect(children.length).toBeGreaterThan(30);
    for (const r of children.filter((c) => c.custom && c.type.startsWith("aws:"))) expect([r.name, r.provider]).toEqual([r.name, expect.stringMatching(/::aws::/)]);
    for (const r of children.filter((c) => c.type.startsWith("kubernetes:"))) expect([r.name, r.provider]).toEqual([r.name, expect.stringMatching(/::cluster-k8s::/)]);
  });

  test("the new Kubernetes objects are valid against their schemas", () => {
    const kinds = ["kubernetes:core/v1:Namespace", "kubernetes:core/v1:Secret", "kubernetes:core/v1:ConfigMap", "kubernetes:networking.k8s.io/v1:NetworkPolicy", "kubernetes:policy.linkerd.io/v1alpha1:MeshTLSAuthentication", "kubernetes:policy.linkerd.io/v1alpha1:AuthorizationPolicy"];
    const objects = mocks.resources.filter((r) => kinds.includes(r.type) && /^(collector|grafana|container-logs|cloudwatch-exporter|ingest-mesh-collector|ingest-network|processor-network)/.test(r.name));
    expect(objects.map((o) => o.name).sort()).toEqual(
      [
        "cloudwatch-exporter-network-policy",
        "collector-namespace",
        "collector-network-policy",
        "grafana-admin",
        "grafana-dashboard-eventstack-data-services",
        "grafana-dashboard-eventstack-pipeline",
        "grafana-dashboard-eventstack-platform",
        "grafana-network-policy",
        "ingest-mesh-collector-authorization",
        "ingest-mesh-collector-identity",
        "ingest-network-policy",
        "processor-network-policy",
      ].sort(),
    );
    expect(validateK8sObjects(objects.map((o) => objectOf(o.inputs))).filter((r) => r.error !== null)).toEqual([]);
  });
});

describe("alert email subscriptions from config", () => {
  test("one email subscription per observability.alertEmails entry, on the alert topic", async () => {
    const { mocks, outputs } = await runProgram("dev", { "eventstack:observability.alertEmails": ["oncall@example.com", "platform@example.com"] });
    expect(mocks.ofType("aws:sns/topicSubscription:TopicSubscription").map((s) => s.inputs)).toEqual([
      { topic: outputs.alertTopicArn, protocol: "email", endpoint: "oncall@example.com" },
      { topic: outputs.alertTopicArn, protocol: "email", endpoint: "platform@example.com" },
    ]);
  });
});

describe("pure parts", () => {
  test("rule files: a file that is not a Prometheus rule file fails with its name and what was expected", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eventstack-rules-"));
    try {
      expect(() => readRuleFiles(dir)).toThrow(`Metrics: no Prometheus rule files (*.rules.yaml) in ${dir}`);
      writeFileSync(path.join(dir, "slo.rules.yaml"), "groups:\n  - name: slo\n    rules: []\n");
      expect(readRuleFiles(dir)).toEqual([{ namespace: "slo", file: "slo.rules.yaml", data: "groups:\n  - name: slo\n    rules: []\n" }]);
      writeFileSync(path.join(dir, "broken.rules.yaml"), "alerts:\n  - x\n");
      expect(() => readRuleFiles(dir)).toThrow("Metrics: broken.rules.yaml must be a Prometheus rule file: a non-empty `groups` list, each group with a `name` and a `rules` list");
      writeFileSync(path.join(dir, "broken.rules.yaml"), "groups: [\n");
      expect(() => readRuleFiles(dir)).toThrow(/^Metrics: broken\.rules\.yaml is not YAML: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the alert manager definition is Alertmanager's configuration under alertmanager_config", () => {
    expect(parse(alertManagerDefinition("arn:aws:sns:eu-west-1:123456789012:t", "eu-west-1"))).toEqual({ alertmanager_config: expect.stringContaining("topic_arn: arn:aws:sns:eu-west-1:123456789012:t") });
  });

  test("CloudWatch dimensions from ARNs, with a clear error for anything else", () => {
    expect(targetGroupDimension("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ingest/0123456789abcdef")).toBe("targetgroup/ingest/0123456789abcdef");
    expect(loadBalancerDimension("arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/net/edge/0123456789abcdef/fedcba9876543210")).toBe("net/edge/0123456789abcdef");
    expect(() => loadBalancerDimension("arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/edge/01/02")).toThrow('Alarms: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/edge/01/02" is not a Network Load Balancer listener ARN');
  });

  test("the sample share is a percentage", () => {
    const base = { region: "eu-west-1", prometheusEndpoint: "https://x/", pods: [], kafkaBrokerHosts: [], scrapeIntervalSeconds: 30, latencyThresholdMs: 1000 };
    expect(() => collectorConfig({ ...base, samplePercent: 101 })).toThrow("collector: samplePercent must be from 0 to 100 (got 101)");
    expect(brokerHosts("b-1.x:9098, b-2.x:9098,b-1.x:9098")).toEqual(["b-1.x", "b-2.x"]);
  });
});
