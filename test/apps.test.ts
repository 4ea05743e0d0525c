// The services on the cluster, over both stacks as index.ts wires them: every Kubernetes object the program declares
// is valid against its schema; every container is hardened; each pod runs as its own service account bound through
// Pod Identity to its own role; the autoscalers target the Rollouts; the pods are meshed; the migrate Job runs
// before the Rollouts; configuration reaches the pods without a secret value; and the data services the pods
// use are the ones the program created, reachable from the cluster only.
import { objectOf, validateK8sObjects } from "./k8s-schema";
import type { RecordedResource, RecordingMocks } from "./mocks";
import { engineConfig, runProgram, TEST_IMAGE_DIGESTS, TEST_REGION } from "./program";

const ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout";
const JOB = "kubernetes:batch/v1:Job";
const SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount";
const ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation";
/** The NLB's fixed addresses under the mocks: the first of the reserved last /28 of each private /19 (components/fixed-addresses.ts). */
const NLB_CIDRS = ["10.0.31.240/32", "10.0.63.240/32", "10.0.95.240/32"];

/** Where both services send spans (components/observability/collector.ts). */
const OTLP = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector.observability.svc.cluster.local:4318", OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" };
const urnOf = (r: RecordedResource) => expect.stringMatching(new RegExp(`[$:]${r.type.replace(/[/.$]/g, "\\$&")}::${r.name}$`));
const podSpecOf = (r: RecordedResource) => r.inputs.spec.template.spec;
const envOf = (container: any): Record<string, string> => Object.fromEntries(container.env.map((e: any) => [e.name, e.value]));

describe.each(["dev", "prod"])("%s stack", (stack) => {
  let mocks: RecordingMocks;
  let outputs: Record<string, any>;
  const config = engineConfig(stack);
  const num = (key: string) => Number(config[`eventstack:${key}`]);
  beforeAll(async () => {
    ({ mocks, outputs } = await runProgram(stack));
  });
  const rollout = (name: string) => mocks.get(ROLLOUT, `${name}-rollout`);
  const job = () => mocks.get(JOB, "migrate-job");
  const pods = () => [rollout("ingest"), rollout("processor"), job()];

  describe("schemas", () => {
    test("every Kubernetes object and custom resource the program declares is valid against its published schema", () => {
      const objects = mocks.resources.filter((r) => r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm.sh/"));
      const kinds = new Set(objects.map((r) => r.type));
      // Every kind the services' delivery, scaling, mesh policy and node provisioning rely on is among them, so none
      // can silently drop out of the check.
      for (const kind of [
        "kubernetes:argoproj.io/v1alpha1:Rollout",
        "kubernetes:argoproj.io/v1alpha1:AnalysisTemplate",
        "kubernetes:batch/v1:Job",
        "kubernetes:core/v1:Service",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:core/v1:Namespace",
        "kubernetes:policy/v1:PodDisruptionBudget",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "kubernetes:keda.sh/v1alpha1:ScaledObject",
        "kubernetes:keda.sh/v1alpha1:TriggerAuthentication",
        "kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding",
        "kubernetes:policy.linkerd.io/v1beta3:Server",
        "kubernetes:policy.linkerd.io/v1alpha1:AuthorizationPolicy",
        "kubernetes:policy.linkerd.io/v1alpha1:NetworkAuthentication",
        "kubernetes:karpenter.sh/v1:NodePool",
        "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass",
      ]) {
        expect([kind, kinds.has(kind)]).toEqual([kind, true]);
      }
      const results = validateK8sObjects(objects.filter((r) => r.type !== "kubernetes:yaml/v2:ConfigFile").map((r) => objectOf(r.inputs)));
      expect(results.filter((r) => r.error !== null)).toEqual([]);
    });
  });

  describe("hardening, for every container of every pod the program declares", () => {
    test("restricted security context at container and pod level", () => {
      for (const r of pods()) {
        const spec = podSpecOf(r);
        expect([r.name, spec.securityContext]).toEqual([r.name, { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } }]);
        expect(spec.automountServiceAccountToken).toBe(false);
        for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
          expect([r.name, c.name, c.securityContext]).toEqual([
            r.name,
            c.name,
            {
              runAsNonRoot: true,
              runAsUser: 65532,
              runAsGroup: 65532,
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ["ALL"] },
              seccompProfile: { type: "RuntimeDefault" },
            },
          ]);
          // The read-only root filesystem leaves /tmp as the one writable place, a bounded in-memory volume.
          expect(c.volumeMounts).toEqual([{ name: "tmp", mountPath: "/tmp" }]);
        }
        expect(spec.volumes).toEqual([{ name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } }]);
      }
    });

    test("CPU and memory requests and a memory limit, never a CPU limit", () => {
      for (const r of pods()) {
        for (const c of podSpecOf(r).containers) {
          expect(Object.keys(c.resources.requests).sort()).toEqual(["cpu", "memory"]);
          expect(Object.keys(c.resources.limits)).toEqual(["memory"]);
        }
      }
      expect(podSpecOf(rollout("ingest")).containers[0].resources).toEqual({ requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "512Mi" } });
      expect(podSpecOf(rollout("processor")).containers[0].resources).toEqual({ requests: { cpu: "500m", memory: "512Mi" }, limits: { memory: "1Gi" } });
    });

    test.each([
      ["ingest", 8080],
      ["processor", 8081],
    ])("%s: startup, liveness (/healthz) and readiness (/readyz) probes on its HTTP port %i", (name, port) => {
      const [c] = podSpecOf(rollout(name)).containers;
      expect(c.ports).toEqual([{ name: "http", containerPort: port, protocol: "TCP" }]);
      const get = (path: string) => ({ path, port: "http", scheme: "HTTP" });
      expect(c.startupProbe).toEqual({ httpGet: get("/healthz"), periodSeconds: 2, failureThreshold: 30, timeoutSeconds: 2 });
      expect(c.livenessProbe).toEqual({ httpGet: get("/healthz"), periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 });
      expect(c.readinessProbe).toEqual({ httpGet: get("/readyz"), periodSeconds: 5, failureThreshold: 2, timeoutSeconds: 2 });
    });

    test("the preStop delay and grace period cover the drain: NLB deregistration for ingest, endpoints and the consumer for the processor", () => {
      const ingest = podSpecOf(rollout("ingest"));
      const processor = podSpecOf(rollout("processor"));
      expect(ingest.containers[0].lifecycle).toEqual({ preStop: { sleep: { seconds: 20 } } });
      expect(processor.containers[0].lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
      // Grace = preStop + the services' SHUTDOWN_TIMEOUT_MS (25 s default) + a margin.
      expect(ingest.terminationGracePeriodSeconds).toBe(55);
      expect(processor.terminationGracePeriodSeconds).toBe(40);
      // The NLB keeps a deregistered pod's flows exactly as long as the pod serves (preStop + shutdown), and gives up
      // on it before the kubelet kills it.
      const tg = mocks.get("aws:lb/targetGroup:TargetGroup", "edge-tg").inputs;
      expect(tg.deregistrationDelay).toBe(20 + 25);
      expect(tg.deregistrationDelay).toBeLessThan(ingest.terminationGracePeriodSeconds);
    });

    test("images are the pushed ECR images, by digest", () => {
      for (const [name, r] of [["ingest", rollout("ingest")], ["processor", rollout("processor")], ["processor", job()]] as const) {
        // The digests the deploy workflow passes (images.<service>); built in pulumi up: test/image-delivery.test.ts.
        const repository = mocks.get("aws:ecr/repository:Repository", `images-${name}`).state;
        expect(podSpecOf(r).containers[0].image).toBe(`${repository.repositoryUrl}@${TEST_IMAGE_DIGESTS[name]}`);
      }
      expect(outputs.ingestImage).toBe(podSpecOf(rollout("ingest")).containers[0].image);
    });

    test("zones strictly, hosts preferably; on the workload NodePool; replicas left to the autoscaler; rollouts never drop a ready pod", () => {
      for (const name of ["ingest", "processor"]) {
        const d = rollout(name).inputs.spec;
        const selector = d.selector.matchLabels;
        expect(selector).toEqual({ "app.kubernetes.io/name": name, "app.kubernetes.io/instance": `eventstack-${name}` });
        expect(d.template.spec.topologySpreadConstraints).toEqual([
          { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: selector } },
          { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selector } },
        ]);
        const poolLabels = mocks.get("kubernetes:karpenter.sh/v1:NodePool", "karpenter-node-pool").inputs.spec.template.metadata.labels;
        expect(d.template.spec.nodeSelector).toEqual({ "kubernetes.io/os": "linux", ...poolLabels });
        expect(d).not.toHaveProperty("replicas");
        // Canaries that never drop a ready pod: ingest surges by a quarter, the processor by its one canary pod.
        expect({ maxUnavailable: d.strategy.canary.maxUnavailable, maxSurge: d.strategy.canary.maxSurge }).toEqual({ maxUnavailable: 0, maxSurge: name === "ingest" ? "25%" : 1 });
      }
    });
  });

  describe("labels", () => {
    test("every object of the services carries the Kubernetes recommended labels", () => {
      const version = (name: string) => rollout(name === "ingest" ? "ingest" : "processor").inputs.metadata.labels["app.kubernetes.io/version"];
      for (const r of mocks.resources.filter((x) => x.parent.includes("eventstack:apps:Workload") && x.type.startsWith("kubernetes:"))) {
        const name = r.name.startsWith("ingest") ? "ingest" : "processor";
        const labels = r.inputs.metadata.labels;
        expect([r.name, labels]).toEqual([
          r.name,
          {
            "app.kubernetes.io/name": name,
            "app.kubernetes.io/instance": `eventstack-${name}`,
            "app.kubernetes.io/version": version(name),
            "app.kubernetes.io/component": name === "ingest" ? "api" : "consumer",
            "app.kubernetes.io/part-of": "eventstack",
            "app.kubernetes.io/managed-by": "pulumi",
          },
        ]);
      }
      // Deployed by digest: the digest's first 12 hex digits (built in pulumi up, the content tag: test/image-delivery.test.ts).
      expect(rollout("ingest").inputs.metadata.labels["app.kubernetes.io/version"]).toBe(`sha256-${TEST_IMAGE_DIGESTS.ingest.slice(7, 19)}`);
      expect(rollout("ingest").inputs.spec.template.metadata.labels).toEqual(rollout("ingest").inputs.metadata.labels);
    });
  });

  describe("identity: ServiceAccount ↔ Pod Identity association ↔ IAM role", () => {
    test.each([
      ["ingest", "ingest-rollout", ROLLOUT],
      ["processor", "processor-rollout", ROLLOUT],
      ["migrate", "migrate-job", JOB],
    ])("%s runs as its own service account, associated with its own role, which trusts exactly that service account", (workload, resource, type) => {
      const pod = podSpecOf(mocks.get(type, resource));
      const sa = mocks.get(SERVICE_ACCOUNT, `${workload}-service-account`).inputs;
      expect(pod.serviceAccountName).toBe(workload);
      expect(sa.metadata).toMatchObject({ name: workload, namespace: "eventstack" });
      expect(sa.automountServiceAccountToken).toBe(false);
      const role = mocks.get("aws:iam/role:Role", `workloads-${workload}`);
      expect(mocks.get(ASSOCIATION, `${workload}-pod-identity`).inputs).toEqual({ clusterName: `eventstack-${stack}`, namespace: "eventstack", serviceAccount: workload, roleArn: role.state.arn });
      expect(JSON.parse(role.inputs.assumeRolePolicy).Statement[0].Condition.StringEquals).toEqual({
        "aws:RequestTag/eks-cluster-arn": mocks.get("eks:index:Cluster", "cluster-eks").state.eksCluster.arn,
        "aws:RequestTag/kubernetes-namespace": "eventstack",
        "aws:RequestTag/kubernetes-service-account": workload,
      });
      // The association (with its policy) exists before a pod could start without credentials.
      expect(mocks.get(type, resource).dependencies).toContainEqual(urnOf(mocks.get(ASSOCIATION, `${workload}-pod-identity`)));
    });
  });

  describe("autoscalers → Rollouts", () => {
    test("ingest: an autoscaling/v2 HPA on CPU with the stack's bounds and target", () => {
      const hpa = mocks.get("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "ingest-hpa").inputs.spec;
      expect(hpa.scaleTargetRef).toEqual({ apiVersion: "argoproj.io/v1alpha1", kind: "Rollout", name: rollout("ingest").inputs.metadata.name });
      expect([hpa.minReplicas, hpa.maxReplicas]).toEqual([num("ingest.minReplicas"), num("ingest.maxReplicas")]);
      expect(hpa.metrics).toEqual([{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: num("ingest.targetCpuUtilization") } } }]);
      expect(hpa.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
    });

    test("processor: a KEDA ScaledObject on the consumer group's lag in MSK, authenticated with IAM through the KEDA operator's Pod Identity", () => {
      const scaled = mocks.get("kubernetes:keda.sh/v1alpha1:ScaledObject", "processor-scaled-object").inputs.spec;
      const auth = mocks.get("kubernetes:keda.sh/v1alpha1:TriggerAuthentication", "processor-trigger-auth").inputs;
      expect(scaled.scaleTargetRef).toEqual({ apiVersion: "argoproj.io/v1alpha1", kind: "Rollout", name: rollout("processor").inputs.metadata.name });
      expect([scaled.minReplicaCount, scaled.maxReplicaCount]).toEqual([num("processor.minReplicas"), num("processor.maxReplicas")]);
      expect(scaled.triggers).toEqual([
        {
          type: "kafka",
          authenticationRef: { name: auth.metadata.name },
          metadata: {
            bootstrapServers: mocks.get("aws:msk/cluster:Cluster", "kafka-cluster").state.bootstrapBrokersSaslIam,
            consumerGroup: "eventstack-processor",
            topic: "events",
            lagThreshold: String(num("processor.lagThreshold")),
            offsetResetPolicy: "earliest",
            sasl: "oauthbearer",
            saslTokenProvider: "aws_msk_iam",
            tls: "enable",
            awsRegion: TEST_REGION,
          },
        },
      ]);
      expect(auth.spec).toEqual({ podIdentity: { provider: "aws" } });
      expect(auth.metadata.namespace).toBe("eventstack");
      // The operator's role may read exactly this group's and topic's offsets.
      const kedaPolicy = JSON.parse(mocks.get("aws:iam/rolePolicy:RolePolicy", "autoscaling-keda-operator-msk").inputs.policy);
      const mskCluster = mocks.get("aws:msk/cluster:Cluster", "kafka-cluster").state.arn as string;
      expect(kedaPolicy.Statement.map((s: any) => s.Resource)).toContainEqual(`${mskCluster.replace(":cluster/", ":group/")}/eventstack-processor`);
    });

    test("the KEDA objects wait for KEDA's CRDs and operator; replicas never exceed the events topic's partitions", () => {
      for (const name of ["processor-scaled-object", "processor-trigger-auth"]) {
        const r = mocks.resources.find((x) => x.name === name)!;
        expect(r.dependencies).toContainEqual(urnOf(mocks.get("kubernetes:yaml/v2:ConfigFile", "autoscaling-keda-crds")));
        expect(r.dependencies).toContainEqual(urnOf(mocks.get("kubernetes:helm.sh/v3:Release", "autoscaling-keda")));
      }
      expect(num("processor.maxReplicas")).toBeLessThanOrEqual(mocks.get("aws:msk/topic:Topic", "kafka-events").inputs.partitionCount);
    });

    test("a PodDisruptionBudget selects each Rollout's pods", () => {
      for (const name of ["ingest", "processor"]) {
        const pdb = mocks.get("kubernetes:policy/v1:PodDisruptionBudget", `${name}-pdb`).inputs;
        expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: rollout(name).inputs.spec.selector.matchLabels }, unhealthyPodEvictionPolicy: "AlwaysAllow" });
        expect(pdb.metadata.namespace).toBe("eventstack");
      }
    });
  });

  describe("mesh", () => {
    test("the apps' namespace is meshed, audits the restricted Pod Security Standard and defaults to all-authenticated inbound", () => {
      const ns = mocks.get("kubernetes:core/v1:Namespace", "apps-namespace").inputs.metadata;
      expect(ns.name).toBe("eventstack");
      expect(ns.annotations).toEqual({ "linkerd.io/inject": "enabled", "config.linkerd.io/default-inbound-policy": "all-authenticated" });
      expect(ns.labels).toMatchObject({ "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "restricted", "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled" });
      expect(mocks.get("kubernetes:core/v1:Namespace", "apps-namespace").dependencies).toContainEqual(urnOf(mocks.get("kubernetes:helm.sh/v3:Release", "mesh-control-plane")));
    });

    test("every pod is injected, and its TLS connections to the data services bypass the proxy", () => {
      expect(rollout("ingest").inputs.spec.template.metadata.annotations).toEqual({ "linkerd.io/inject": "enabled", "config.linkerd.io/skip-outbound-ports": "9098" });
      expect(rollout("processor").inputs.spec.template.metadata.annotations).toEqual({ "linkerd.io/inject": "enabled", "config.linkerd.io/skip-outbound-ports": "5432,6379,9098" });
      expect(job().inputs.spec.template.metadata.annotations).toEqual({ "linkerd.io/inject": "enabled", "config.linkerd.io/skip-outbound-ports": "5432,9098" });
      for (const r of pods()) expect(r.dependencies).toContainEqual(urnOf(mocks.get("kubernetes:helm.sh/v3:Release", "mesh-control-plane")));
    });

    test("ingest's HTTP port admits the NLB (unmeshed, from its fixed addresses) through a Server and AuthorizationPolicy; nothing else opens it", () => {
      const server = mocks.get("kubernetes:policy.linkerd.io/v1beta3:Server", "ingest-mesh-server").inputs;
      const networks = mocks.get("kubernetes:policy.linkerd.io/v1alpha1:NetworkAuthentication", "ingest-mesh-networks").inputs;
      const policy = mocks.get("kubernetes:policy.linkerd.io/v1alpha1:AuthorizationPolicy", "ingest-mesh-authorization").inputs;
      expect(server.spec).toEqual({ podSelector: { matchLabels: rollout("ingest").inputs.spec.selector.matchLabels }, port: "http", proxyProtocol: "HTTP/1", accessPolicy: "deny" });
      expect(networks.spec).toEqual({ networks: NLB_CIDRS.map((cidr) => ({ cidr })) });
      expect(policy.spec).toEqual({
        targetRef: { group: "policy.linkerd.io", kind: "Server", name: server.metadata.name },
        requiredAuthenticationRefs: [{ group: "policy.linkerd.io", kind: "NetworkAuthentication", name: networks.metadata.name }],
      });
      expect(mocks.ofType("kubernetes:policy.linkerd.io/v1beta3:Server")).toHaveLength(1);
      // No HTTPRoute selects the Server, so Linkerd keeps authorizing kubelet probes on it by itself.
      expect(mocks.resources.filter((r) => r.type.includes("HTTPRoute"))).toEqual([]);
      for (const r of [server, networks, policy]) expect(r.metadata.namespace).toBe("eventstack");
      expect(mocks.get("kubernetes:policy.linkerd.io/v1beta3:Server", "ingest-mesh-server").dependencies).toContainEqual(urnOf(mocks.get("kubernetes:helm.sh/v4:Chart", "mesh-crds")));
    });
  });

  describe("the migrate Job", () => {
    test("runs the processor image's migrate command, once, and the Rollouts wait for it", () => {
      const spec = job().inputs.spec;
      const [c] = spec.template.spec.containers;
      expect(c.command).toEqual(["node", "dist/src/migrate.js"]);
      expect(spec.template.spec.restartPolicy).toBe("Never");
      expect([spec.backoffLimit, spec.activeDeadlineSeconds]).toEqual([3, 900]);
      // No name: a changed template makes Pulumi create a new Job, which runs again.
      expect(job().inputs.metadata).not.toHaveProperty("name");
      for (const name of ["ingest", "processor"]) expect(rollout(name).dependencies).toContainEqual(urnOf(job()));
      // It needs the database and the topics in place first.
      expect(job().dependencies).toContainEqual(urnOf(mocks.get("aws:rds/clusterInstance:ClusterInstance", "database-writer")));
      expect(job().dependencies).toContainEqual(urnOf(mocks.get("aws:msk/topic:Topic", "kafka-dead-letters")));
    });

    test("logs in as the master user with the RDS-managed secret, named by ARN, and creates the processor's and the reader's roles", () => {
      const env = envOf(job().inputs.spec.template.spec.containers[0]);
      const db = mocks.get("aws:rds/cluster:Cluster", "database-cluster").state;
      expect(env).toEqual({
        KAFKA_BOOTSTRAP: mocks.get("aws:msk/cluster:Cluster", "kafka-cluster").state.bootstrapBrokersSaslIam,
        KAFKA_AUTH: "msk-iam",
        KAFKA_TLS: "true",
        AWS_REGION: TEST_REGION,
        EVENTS_TOPIC: "events",
        KAFKA_CLIENT_ID: "eventstack-migrate",
        DLQ_TOPIC: "events.dlq",
        KAFKA_TOPIC_PARTITIONS: String(num("kafka.eventsPartitions")),
        KAFKA_TOPIC_REPLICATION: "3",
        PGHOST: db.endpoint,
        PGPORT: "5432",
        PGDATABASE: "eventstack",
        PG_TLS: "verify-full",
        PGUSER: "postgres",
        PG_AUTH: "password",
        PG_MASTER_SECRET_ARN: db.masterUserSecrets[0].secretArn,
        DB_PROCESSOR_ROLE: "eventstack_processor",
        DB_READER_ROLE: "eventstack_reader",
      });
      const policy = JSON.parse(mocks.get("aws:iam/rolePolicy:RolePolicy", "workloads-migrate").inputs.policy);
      expect(policy.Statement.find((s: any) => s.Sid === "ReadMasterSecret").Resource).toEqual([env.PG_MASTER_SECRET_ARN]);
    });
  });

  describe("configuration into pods", () => {
    test("ingest gets MSK's IAM bootstrap brokers, the topic and the stack's limits", () => {
      expect(envOf(podSpecOf(rollout("ingest")).containers[0])).toEqual({
        PORT: "8080",
        KAFKA_BOOTSTRAP: mocks.get("aws:msk/cluster:Cluster", "kafka-cluster").state.bootstrapBrokersSaslIam,
        KAFKA_AUTH: "msk-iam",
        KAFKA_TLS: "true",
        AWS_REGION: TEST_REGION,
        EVENTS_TOPIC: mocks.get("aws:msk/topic:Topic", "kafka-events").state.name,
        KAFKA_CLIENT_ID: "eventstack-ingest",
        MAX_BODY_BYTES: String(num("ingest.maxBodyBytes")),
        MAX_BATCH_EVENTS: String(num("ingest.maxBatchEvents")),
        MAX_EVENT_DATA_BYTES: String(num("ingest.maxEventDataBytes")),
        ...OTLP,
      });
    });

    test("the processor gets IAM auth to Aurora as its own role, TLS to the cache and its credentials' secret ARN", () => {
      const cacheSecret = mocks.get("aws:secretsmanager/secret:Secret", "cache-processor-secret").state.arn;
      expect(envOf(podSpecOf(rollout("processor")).containers[0])).toEqual({
        PORT: "8081",
        KAFKA_BOOTSTRAP: mocks.get("aws:msk/cluster:Cluster", "kafka-cluster").state.bootstrapBrokersSaslIam,
        KAFKA_AUTH: "msk-iam",
        KAFKA_TLS: "true",
        AWS_REGION: TEST_REGION,
        EVENTS_TOPIC: "events",
        KAFKA_CLIENT_ID: "eventstack-processor",
        DLQ_TOPIC: "events.dlq",
        CONSUMER_GROUP: "eventstack-processor",
        PGHOST: mocks.get("aws:rds/cluster:Cluster", "database-cluster").state.endpoint,
        PGPORT: "5432",
        PGDATABASE: "eventstack",
        PG_TLS: "verify-full",
        PGUSER: "eventstack_processor",
        PG_AUTH: "iam",
        REDIS_HOST: mocks.get("aws:elasticache/replicationGroup:ReplicationGroup", "cache-group").state.primaryEndpointAddress,
        REDIS_PORT: "6379",
        REDIS_TLS: "true",
        REDIS_AUTH_SECRET_ARN: cacheSecret,
        ...OTLP,
      });
      const policy = JSON.parse(mocks.get("aws:iam/rolePolicy:RolePolicy", "workloads-processor").inputs.policy);
      expect(policy.Statement.find((s: any) => s.Sid === "ReadOwnCacheCredentials").Resource).toEqual([cacheSecret]);
      expect(policy.Statement.find((s: any) => s.Sid === "DatabaseConnectAsOwnRole").Resource[0]).toMatch(/:dbuser:cluster-[0-9A-F]+\/eventstack_processor$/);
    });

    test("no secret value in any Kubernetes object: no password in an env literal, ConfigMap or Secret the program declares", () => {
      const secrets = mocks.ofType("random:index/randomPassword:RandomPassword").map((p) => p.state.result as string);
      expect(secrets.length).toBeGreaterThan(0);
      // The one Secret is Grafana's admin login (components/observability/grafana.ts): its value is a Pulumi secret.
      const own = mocks.resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm.sh/") && r.name !== "grafana-admin");
      for (const r of own) {
        const text = JSON.stringify(r.inputs);
        for (const secret of secrets) expect([r.name, text.includes(secret)]).toEqual([r.name, false]);
      }
      // ConfigMaps: Grafana's dashboards only.
      expect(mocks.ofType("kubernetes:core/v1:ConfigMap").filter((c) => c.inputs.metadata.labels?.grafana_dashboard !== "1")).toEqual([]);
      expect(mocks.ofType("kubernetes:core/v1:Secret").map((s) => [s.name, Object.keys(s.inputs.stringData)])).toEqual([["grafana-admin", ["4dabf18193072939515e22adb298388d", "value"]]]);
      for (const r of pods()) {
        for (const c of podSpecOf(r).containers) {
          for (const e of c.env) {
            expect([e.name, /PASSWORD|TOKEN|SECRET$|_KEY$/.test(e.name)]).toEqual([e.name, false]);
            if (e.name.endsWith("_SECRET_ARN")) expect(e.value).toMatch(/^arn:aws:secretsmanager:/);
          }
        }
      }
    });
  });

  describe("network policy", () => {
    test("each pod admits the proxy's ports from the VPC and its own from the VPC or, behind the NLB, the NLB alone; it dials only DNS, the mesh, the Pod Identity agent, its data services and, where needed, AWS APIs", () => {
      const policy = (name: string) => mocks.get("kubernetes:networking.k8s.io/v1:NetworkPolicy", `${name}-network-policy`).inputs.spec;
      const vpc = [{ ipBlock: { cidr: "10.0.0.0/16" } }];
      const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: "TCP", port }));
      const base = [
        { ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] },
        { to: vpc, ports: tcp(8080, 8086, 8090) },
        { to: [{ ipBlock: { cidr: "169.254.170.23/32" } }], ports: tcp(80) },
      ];
      // The OpenTelemetry Collector's pods, exactly: spans to their 4318, scrapes from them (docs/observability-aws.md).
      const collector = [
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "observability" } },
          podSelector: { matchLabels: { "app.kubernetes.io/name": "opentelemetry-collector", "app.kubernetes.io/instance": "otel-collector" } },
        },
      ];
      const spans = { to: collector, ports: tcp(4318) };
      expect(policy("ingest")).toEqual({
        podSelector: { matchLabels: rollout("ingest").inputs.spec.selector.matchLabels },
        policyTypes: ["Ingress", "Egress"],
        ingress: [{ from: vpc, ports: tcp(4143, 4191) }, { from: collector, ports: tcp(8080) }, { from: NLB_CIDRS.map((cidr) => ({ ipBlock: { cidr } })), ports: tcp(8080) }],
        egress: [...base, { to: vpc, ports: tcp(9098) }, spans],
      });
      // HTTPS: to the interface endpoints' reserved ranges where they exist (prod), else public addresses only (dev).
      const https =
        stack === "prod"
          ? { to: ["10.0.31.240/28", "10.0.63.240/28", "10.0.95.240/28"].map((cidr) => ({ ipBlock: { cidr } })), ports: tcp(443) }
          : { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "10.0.0.0/16"] } }], ports: tcp(443) };
      expect(policy("processor").ingress).toEqual([{ from: vpc, ports: tcp(8081, 4143, 4191) }, { from: collector, ports: tcp(8081) }]);
      expect(policy("processor").egress).toEqual([...base, { to: vpc, ports: tcp(5432, 6379, 9098) }, https, spans]);
      expect(policy("migrate").ingress).toEqual([{ from: vpc, ports: tcp(4143, 4191) }]);
      expect(policy("migrate").egress).toEqual([...base, { to: vpc, ports: tcp(5432, 9098) }, https]);
      // Enforced: the VPC CNI's network policy agent is on.
      expect(mocks.get("eks:index:Cluster", "cluster-eks").inputs.vpcCniOptions.enableNetworkPolicy).toBe(true);
    });
  });

  test("every child of the apps' components is parented to its component and uses the stack's providers", () => {
    const components = ["eventstack:apps:Workload", "eventstack:apps:MigrateJob", "eventstack:apps:AppsNamespace", "eventstack:edge:Edge", "eventstack:edge:LoadBalancerController", "eventstack:mesh:Linkerd"];
    const children = mocks.resources.filter((r) => r.custom && components.some((c) => r.parent.includes(`::${c}::`) || r.parent.endsWith(c)));
    expect(children.length).toBeGreaterThan(40);
    for (const r of children) {
      const expected = r.type.startsWith("aws:") ? /[$:]pulumi:providers:aws::aws::/ : r.type.startsWith("kubernetes:") ? /[$:]pulumi:providers:kubernetes::cluster-k8s::/ : undefined;
      if (expected) expect([r.type, r.name, r.provider]).toEqual([r.type, r.name, expect.stringMatching(expected)]);
      // Named after the component that owns it (`<component>-<role>`).
      const owner = r.parent.split("::").pop()!;
      expect([r.name, r.name.startsWith(`${owner}-`) || r.name === owner]).toEqual([r.name, true]);
    }
  });

  describe("data services as wired: placement, who may connect, what the stack exports", () => {
    test("Aurora, the cache and MSK sit in the isolated subnets and admit only the cluster's node security group", () => {
      const nodeSg = mocks.get("eks:index:Cluster", "cluster-eks").state.nodeSecurityGroupId;
      const isolated = mocks.get("awsx:ec2:Vpc", "network-vpc").state.isolatedSubnetIds;
      expect(mocks.get("aws:rds/subnetGroup:SubnetGroup", "database-subnets").inputs.subnetIds).toEqual(isolated);
      expect(mocks.get("aws:elasticache/subnetGroup:SubnetGroup", "cache-subnets").inputs.subnetIds).toEqual(isolated);
      expect(mocks.get("aws:msk/cluster:Cluster", "kafka-cluster").inputs.brokerNodeGroupInfo.clientSubnets).toEqual(isolated);
      for (const [sg, port] of [["database-sg", 5432], ["cache-sg", 6379], ["kafka-sg", 9098]] as const) {
        expect(mocks.get("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", `${sg}-client-1`).inputs).toEqual(
          expect.objectContaining({ securityGroupId: mocks.get("aws:ec2/securityGroup:SecurityGroup", sg).state.id, ipProtocol: "tcp", fromPort: port, toPort: port, referencedSecurityGroupId: nodeSg }),
        );
      }
    });

    test("no security group or rule anywhere in the program admits 0.0.0.0/0 or ::/0", () => {
      const open = (cidrs: unknown[]) => cidrs.some((c) => c === "0.0.0.0/0" || c === "::/0");
      for (const sg of mocks.ofType("aws:ec2/securityGroup:SecurityGroup")) {
        for (const rule of sg.inputs.ingress ?? []) expect([sg.name, open([...(rule.cidrBlocks ?? []), ...(rule.ipv6CidrBlocks ?? [])])]).toEqual([sg.name, false]);
      }
      for (const rule of mocks.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")) {
        expect([rule.name, open([rule.inputs.cidrIpv4, rule.inputs.cidrIpv6])]).toEqual([rule.name, false]);
      }
      expect(mocks.ofType("aws:ec2/securityGroupRule:SecurityGroupRule")).toEqual([]);
    });

    test("the stack exports what users and workloads need: endpoints, ports, IAM bootstrap brokers, topics, secret ARNs", () => {
      const db = mocks.get("aws:rds/cluster:Cluster", "database-cluster").state;
      const cache = mocks.get("aws:elasticache/replicationGroup:ReplicationGroup", "cache-group").state;
      const msk = mocks.get("aws:msk/cluster:Cluster", "kafka-cluster").state;
      expect(outputs).toMatchObject({
        clusterName: `eventstack-${stack}`,
        apiUrl: mocks.get("aws:apigatewayv2/api:Api", "edge-api").state.apiEndpoint,
        databaseEndpoint: db.endpoint,
        databaseReaderEndpoint: db.readerEndpoint,
        databasePort: 5432,
        databaseName: "eventstack",
        databaseMasterSecretArn: db.masterUserSecrets[0].secretArn,
        cachePrimaryEndpoint: cache.primaryEndpointAddress,
        cacheReaderEndpoint: cache.readerEndpointAddress,
        cachePort: 6379,
        cacheProcessorUser: `eventstack-${stack}-processor`,
        cacheProcessorSecretArn: mocks.get("aws:secretsmanager/secret:Secret", "cache-processor-secret").state.arn,
        kafkaBootstrapBrokers: msk.bootstrapBrokersSaslIam,
        kafkaClusterArn: msk.arn,
        eventsTopic: "events",
        deadLetterTopic: "events.dlq",
        appsNamespace: "eventstack",
      });
      expect(outputs.workloadRoleArns).toEqual({
        ingest: mocks.get("aws:iam/role:Role", "workloads-ingest").state.arn,
        processor: mocks.get("aws:iam/role:Role", "workloads-processor").state.arn,
        migrate: mocks.get("aws:iam/role:Role", "workloads-migrate").state.arn,
      });
      expect(outputs.kafkaBootstrapBrokers).toMatch(/^([a-z0-9.-]+:9098,)*[a-z0-9.-]+:9098$/);
    });
  });

});
