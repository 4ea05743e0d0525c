// The workload builders (components/workload/manifests.ts, pod.ts and objects.ts), called directly with literal
// arguments: no program evaluation, no mocks. test/apps.test.ts and test/delivery.test.ts check the same objects as the
// program applies them and against the published schemas.
import type { WorkloadArgs } from "../components/workload";
import {
  horizontalPodAutoscaler,
  kafkaScaledObject,
  linkerdAuthorizationPolicy,
  linkerdNetworkAuthentication,
  networkPolicy,
  podDisruptionBudget,
  service,
  targetGroupBinding,
} from "../components/workload/manifests";
import { groupKind, workloadObjects } from "../components/workload/objects";
import { container, meshAnnotations, podSpec, recommendedLabels, selectorLabels } from "../components/workload/pod";

const META = { name: "ingest", namespace: "apps", labels: { "app.kubernetes.io/name": "ingest" } };
const SELECTOR = { "app.kubernetes.io/name": "ingest", "app.kubernetes.io/instance": "eventstack-ingest" };
const tcp = (port: number) => ({ protocol: "TCP", port });

test("the builders load no Pulumi resource package, so they run without an engine and cannot create a resource", () => {
  const packages = ["@pulumi/aws", "@pulumi/kubernetes", "@pulumi/eks", "@pulumi/awsx"];
  jest.isolateModules(() => {
    for (const pkg of packages) {
      jest.doMock(pkg, () => {
        throw new Error(`${pkg} loaded`);
      });
    }
    expect(() => require("../components/workload/objects")).not.toThrow();
  });
  for (const pkg of packages) jest.dontMock(pkg);
});

describe("pod", () => {
  test("labels: the recommended set, and a selector of name and instance only (the version changes every rollout)", () => {
    expect(recommendedLabels({ name: "ingest", component: "api", version: "src-abc123" })).toEqual({
      "app.kubernetes.io/name": "ingest",
      "app.kubernetes.io/instance": "eventstack-ingest",
      "app.kubernetes.io/version": "src-abc123",
      "app.kubernetes.io/component": "api",
      "app.kubernetes.io/part-of": "eventstack",
      "app.kubernetes.io/managed-by": "pulumi",
    });
    expect(selectorLabels("ingest")).toEqual(SELECTOR);
  });

  test("the mesh skips the data services' ports, and only names them when there are some", () => {
    expect(meshAnnotations([5432, 9098])).toEqual({ "linkerd.io/inject": "enabled", "config.linkerd.io/skip-outbound-ports": "5432,9098" });
    expect(meshAnnotations([])).toEqual({ "linkerd.io/inject": "enabled" });
  });

  test("a container runs as the non-root user on a read-only root, with probes on the named port and a preStop sleep", () => {
    const c = container({
      name: "ingest",
      image: "repo/ingest@sha256:abc",
      env: { LOG_LEVEL: "info" },
      resources: { cpuRequest: "250m", memoryRequest: "256Mi", memoryLimit: "512Mi" },
      port: { name: "http", containerPort: 8080 },
      probes: { port: "http", livenessPath: "/healthz", readinessPath: "/readyz" },
      preStopSleepSeconds: 15,
    });
    expect(c.env).toEqual([{ name: "LOG_LEVEL", value: "info" }]);
    expect(c.ports).toEqual([{ name: "http", containerPort: 8080, protocol: "TCP" }]);
    expect(c.resources).toEqual({ requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "512Mi" } });
    // The whole restricted context is asserted on every applied container in test/apps.test.ts.
    expect(c.securityContext).toMatchObject({ runAsUser: 65532, readOnlyRootFilesystem: true });
    expect(c.readinessProbe).toEqual({ httpGet: { path: "/readyz", port: "http", scheme: "HTTP" }, periodSeconds: 5, failureThreshold: 2, timeoutSeconds: 2 });
    expect(c.livenessProbe).toEqual({ httpGet: { path: "/healthz", port: "http", scheme: "HTTP" }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 });
    expect(c.lifecycle).toEqual({ preStop: { sleep: { seconds: 15 } } });
  });

  test("a Job's container has neither probes, ports nor preStop", () => {
    const c = container({ name: "migrate", image: "repo/processor@sha256:abc", command: ["node", "dist/src/migrate.js"], env: {}, resources: { cpuRequest: "100m", memoryRequest: "256Mi", memoryLimit: "512Mi" } });
    expect(c.command).toEqual(["node", "dist/src/migrate.js"]);
    expect(Object.keys(c).filter((k) => ["ports", "startupProbe", "livenessProbe", "readinessProbe", "lifecycle"].includes(k))).toEqual([]);
  });

  test("a pod mounts no service account token and spreads over zones strictly, hosts as a preference", () => {
    const spec = podSpec({ serviceAccountName: "ingest", containers: [], terminationGracePeriodSeconds: 45, spreadLabels: SELECTOR, nodeSelector: { "eventstack.io/pool": "workloads" } });
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.enableServiceLinks).toBe(false);
    expect(spec.terminationGracePeriodSeconds).toBe(45);
    expect(spec.nodeSelector).toEqual({ "eventstack.io/pool": "workloads" });
    expect(spec.volumes).toEqual([{ name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } }]);
    expect(spec.topologySpreadConstraints).toEqual([
      { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: SELECTOR } },
      { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: SELECTOR } },
    ]);
    expect(podSpec({ serviceAccountName: "migrate", containers: [], terminationGracePeriodSeconds: 30, restartPolicy: "Never" }).topologySpreadConstraints).toBeUndefined();
  });
});

describe("manifests", () => {
  test("the Service is a ClusterIP with the port named, targeted by name and declared HTTP for the mesh", () => {
    expect(service(META, { selector: SELECTOR, port: 8080, portName: "http" })).toEqual({
      apiVersion: "v1",
      kind: "Service",
      metadata: META,
      spec: { type: "ClusterIP", selector: SELECTOR, ports: [{ name: "http", port: 8080, targetPort: "http", protocol: "TCP", appProtocol: "http" }] },
    });
  });

  test("the PodDisruptionBudget lets one pod go at a time and never blocks on unhealthy pods", () => {
    expect(podDisruptionBudget(META, SELECTOR).spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: SELECTOR }, unhealthyPodEvictionPolicy: "AlwaysAllow" });
  });

  test("the HPA scales the Rollout on CPU, up fast and down slowly", () => {
    const hpa = horizontalPodAutoscaler(META, { rolloutName: "ingest", minReplicas: 2, maxReplicas: 12, targetCpuUtilization: 60 });
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: "argoproj.io/v1alpha1", kind: "Rollout", name: "ingest" });
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([2, 12]);
    expect(hpa.spec.metrics).toEqual([{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 60 } } }]);
    expect(hpa.spec.behavior.scaleDown).toEqual({ stabilizationWindowSeconds: 300, selectPolicy: "Max", policies: [{ type: "Percent", value: 10, periodSeconds: 60 }] });
  });

  test("the ScaledObject reads the group's lag from MSK with IAM over TLS, the threshold as a string", () => {
    const scaled = kafkaScaledObject({ ...META, name: "processor" }, {
      rolloutName: "processor",
      triggerAuthenticationName: "processor-msk",
      minReplicas: 1,
      maxReplicas: 6,
      bootstrapServers: "b-1:9098,b-2:9098",
      consumerGroup: "processor",
      topic: "events",
      lagThreshold: 500,
      awsRegion: "eu-central-1",
    });
    expect(scaled.spec.scaleTargetRef).toEqual({ apiVersion: "argoproj.io/v1alpha1", kind: "Rollout", name: "processor" });
    expect(scaled.spec.triggers).toEqual([
      {
        type: "kafka",
        authenticationRef: { name: "processor-msk" },
        metadata: {
          bootstrapServers: "b-1:9098,b-2:9098",
          consumerGroup: "processor",
          topic: "events",
          lagThreshold: "500",
          offsetResetPolicy: "earliest",
          sasl: "oauthbearer",
          saslTokenProvider: "aws_msk_iam",
          tls: "enable",
          awsRegion: "eu-central-1",
        },
      },
    ]);
  });

  test("the NetworkPolicy: HTTPS only to the endpoints' ranges when given, else to public addresses outside the VPC", () => {
    const base = { podSelector: SELECTOR, ingressPorts: [8080], vpcCidr: "10.20.0.0/16", dataPorts: [5432], awsApis: true };
    type Rule = { to?: unknown; ports?: { port: number }[] };
    const https = (p: ReturnType<typeof networkPolicy>) => (p.spec.egress as Rule[]).find((r) => r.ports?.some((port) => port.port === 443));
    expect(https(networkPolicy(META, { ...base, awsApiCidrs: ["10.20.31.240/28"] }))!.to).toEqual([{ ipBlock: { cidr: "10.20.31.240/28" } }]);
    expect(https(networkPolicy(META, base))!.to).toEqual([
      { ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "10.20.0.0/16"] } },
    ]);
    expect(https(networkPolicy(META, { ...base, awsApis: false }))).toBeUndefined();
  });

  test("the NetworkPolicy admits the VPC on the workload's and the proxy's ports, and a load balancer's port from its addresses only", () => {
    const policy = networkPolicy(META, {
      podSelector: SELECTOR,
      ingressPorts: [],
      loadBalancerIngress: { port: 8080, cidrs: ["10.20.0.14/32", "10.20.32.14/32"] },
      vpcCidr: "10.20.0.0/16",
      dataPorts: [],
      awsApis: false,
    });
    expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(policy.spec.ingress).toEqual([
      { from: [{ ipBlock: { cidr: "10.20.0.0/16" } }], ports: [tcp(4143), tcp(4191)] },
      { from: [{ ipBlock: { cidr: "10.20.0.14/32" } }, { ipBlock: { cidr: "10.20.32.14/32" } }], ports: [tcp(8080)] },
    ]);
    expect(policy.spec.egress).toEqual([
      { ports: [{ protocol: "UDP", port: 53 }, tcp(53)] },
      { to: [{ ipBlock: { cidr: "10.20.0.0/16" } }], ports: [tcp(8080), tcp(8086), tcp(8090)] },
      { to: [{ ipBlock: { cidr: "169.254.170.23/32" } }], ports: [tcp(80)] },
    ]);
  });

  test("the TargetGroupBinding registers pod IPs and admits the NLB's security group on the pods' port", () => {
    expect(targetGroupBinding(META, { serviceName: "ingest", servicePort: 8080, targetGroupArn: "arn:tg", loadBalancerSecurityGroupId: "sg-nlb", podPort: 8080 }).spec).toEqual({
      serviceRef: { name: "ingest", port: 8080 },
      targetGroupARN: "arn:tg",
      targetType: "ip",
      ipAddressType: "ipv4",
      networking: { ingress: [{ from: [{ securityGroup: { groupID: "sg-nlb" } }], ports: [{ protocol: "TCP", port: 8080 }] }] },
    });
  });

  test("Linkerd's policy authorizes a Server's clients by network, or by mesh identity when asked", () => {
    expect(linkerdNetworkAuthentication(META, ["10.20.0.14/32"]).spec).toEqual({ networks: [{ cidr: "10.20.0.14/32" }] });
    expect(linkerdAuthorizationPolicy(META, { serverName: "ingest-http", networkAuthenticationName: "ingest-load-balancer" }).spec).toEqual({
      targetRef: { group: "policy.linkerd.io", kind: "Server", name: "ingest-http" },
      requiredAuthenticationRefs: [{ group: "policy.linkerd.io", kind: "NetworkAuthentication", name: "ingest-load-balancer" }],
    });
    expect(linkerdAuthorizationPolicy(META, { serverName: "ingest-http", networkAuthenticationName: "ingest-collector", kind: "MeshTLSAuthentication" }).spec.requiredAuthenticationRefs).toEqual([
      { group: "policy.linkerd.io", kind: "MeshTLSAuthentication", name: "ingest-collector" },
    ]);
  });
});

describe("workloadObjects", () => {
  const args = {
    name: "ingest",
    component: "api",
    namespace: "apps",
    image: "repo/ingest@sha256:abc",
    version: "src-abc123",
    env: {},
    vpcCidr: "10.20.0.0/16",
    dataPorts: [9098],
    port: 8080,
    resources: { cpuRequest: "250m", memoryRequest: "256Mi", memoryLimit: "512Mi" },
    autoscaler: { kind: "hpa", minReplicas: 2, maxReplicas: 12, targetCpuUtilization: 60 },
    preStopSleepSeconds: 15,
    terminationGracePeriodSeconds: 45,
    edge: { targetGroupArn: "arn:tg", loadBalancerSecurityGroupId: "sg-nlb", clientCidrs: ["10.20.0.14/32"], dependsOn: [] },
    rollout: { canary: "ingest", prometheus: { url: "http://prometheus:9090" }, dependsOn: [] },
  } as unknown as WorkloadArgs;
  const objects = workloadObjects(args);

  test("behind the edge with an HPA: the objects, keyed by their resource suffix, in the order Argo CD's file lists them", () => {
    expect(Object.entries(objects).map(([key, o]) => `${key}: ${o.kind} ${o.metadata.name}`)).toEqual([
      "analysis: AnalysisTemplate ingest-canary",
      "rollout: Rollout ingest",
      "service: Service ingest",
      "pdb: PodDisruptionBudget ingest",
      "network-policy: NetworkPolicy ingest",
      "hpa: HorizontalPodAutoscaler ingest",
      "target-group-binding: TargetGroupBinding ingest",
      "mesh-server: Server ingest-http",
      "mesh-networks: NetworkAuthentication ingest-load-balancer",
      "mesh-authorization: AuthorizationPolicy ingest-load-balancer",
    ]);
  });

  test("behind the edge, the port admits the NLB's addresses and not the VPC", () => {
    const ingress = (objects["network-policy"] as unknown as { spec: { ingress: unknown[] } }).spec.ingress;
    expect(ingress).toEqual([
      { from: [{ ipBlock: { cidr: "10.20.0.0/16" } }], ports: [tcp(4143), tcp(4191)] },
      { from: [{ ipBlock: { cidr: "10.20.0.14/32" } }], ports: [tcp(8080)] },
    ]);
  });

  test("every object is in the namespace, and groupKind names its API group", () => {
    expect(new Set(Object.values(objects).map((o) => o.metadata.namespace))).toEqual(new Set(["apps"]));
    expect(groupKind({ apiVersion: "v1", kind: "Service" })).toEqual({ group: "", kind: "Service" });
    expect(groupKind({ apiVersion: "policy.linkerd.io/v1beta3", kind: "Server" })).toEqual({ group: "policy.linkerd.io", kind: "Server" });
  });
});
