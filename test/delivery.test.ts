// Delivery (docs/delivery.md): both modes on both stacks. In "pulumi" the program applies the workloads as Argo
// Rollouts; in "argocd" it installs Argo CD and an Application, keeps the identities, and exports the workloads'
// objects, which `npm run render:workloads` writes to Git. The written files must be exactly what "pulumi" applies,
// object for object (the migrate Job aside, which becomes a PreSync hook), and valid against the Kubernetes,
// Argo CD and Argo Rollouts schemas at the pinned releases.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import type { WorkloadArgs } from "../components/workload";
import { workloadObjects } from "../components/workload/objects";
import { checkWorkloadManifests, renderFiles, writeWorkloadFiles, type WorkloadManifests } from "../components/workload/render";
import { ampWorkspace, prometheusProvider } from "../components/workload/rollout";
import { objectOf, validateK8sObjects } from "./k8s-schema";
import { configProblems as problems, loadedConfig } from "./loaded-config";
import type { RecordedResource, RecordingMocks } from "./mocks";
import { ARGOCD_DELIVERY, engineConfig, runProgram, TEST_GIT_REPOSITORY, TEST_GITHUB_REPOSITORY, TEST_REGION } from "./program";

const GITHUB = TEST_GITHUB_REPOSITORY;
const REPO = TEST_GIT_REPOSITORY;
const ARGOCD = ARGOCD_DELIVERY;
const RELEASE = "kubernetes:helm.sh/v3:Release";
const CUSTOM = (apiVersion: string, kind: string) => `kubernetes:${apiVersion}:${kind}`;
const ROLLOUT = CUSTOM("argoproj.io/v1alpha1", "Rollout");
const ANALYSIS = CUSTOM("argoproj.io/v1alpha1", "AnalysisTemplate");
const JOB = "kubernetes:batch/v1:Job";
const SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount";
const ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation";
const CONFIG_FILE = "kubernetes:yaml/v2:ConfigFile";

describe("delivery configuration", () => {
  test("an unknown mode is refused, naming the key and the two modes", () => {
    expect(problems({ "eventstack:delivery.mode": "flux" })).toEqual(['eventstack:delivery.mode must be one of "pulumi", "argocd" (got "flux")']);
  });

  test("argocd mode needs the repository Argo CD syncs from", () => {
    expect(problems({ "eventstack:delivery.mode": "argocd" })).toEqual([
      'eventstack:delivery.githubRepository must be set when delivery.mode is "argocd": the repository Argo CD syncs the workloads from (https://github.com/<owner>/<name>.git), where the deploy workflow commits them (got "")',
    ]);
  });

  test("Argo CD clones the repository delivery.githubRepository names, in either of its forms", () => {
    const gitRepository = (githubRepository: string) => loadedConfig("dev", { ...ARGOCD, "eventstack:delivery.githubRepository": githubRepository }).delivery.gitRepository;
    expect(gitRepository(GITHUB)).toBe(REPO);
    // Immutable subject claims append the owner's and the repository's ids, which are no part of the URL.
    expect(gitRepository("example-org@123456/eventstack@789012")).toBe(REPO);
    expect(loadedConfig("dev").delivery.gitRepository).toBe("");
  });

  test("the old delivery.gitRepository is refused, naming the key that replaced it", () => {
    expect(problems({ ...ARGOCD, "eventstack:delivery.gitRepository": REPO })).toEqual([
      `eventstack:delivery.gitRepository was removed: Argo CD syncs from the repository delivery.githubRepository names (https://github.com/<owner>/<name>.git), the one whose workflows push the images and commit the rendered workloads; set delivery.githubRepository to its owner/name (got "${REPO}")`,
    ]);
  });

  test("the analysis Prometheus URL defaults to empty (the stack's own AMP workspace), and an explicit one is kept", () => {
    const load = (overrides: Record<string, unknown>) => loadedConfig("prod", overrides).delivery.analysisPrometheusUrl;
    expect(load({})).toBe("");
    expect(load({ "eventstack:delivery.analysisPrometheusUrl": "http://prometheus.monitoring.svc.cluster.local:9090" })).toBe("http://prometheus.monitoring.svc.cluster.local:9090");
  });

  test("the path is relative and stays inside the repository; the Prometheus URL is http(s)", () => {
    expect(problems({ ...ARGOCD, "eventstack:delivery.gitPath": "../elsewhere", "eventstack:delivery.analysisPrometheusUrl": "prometheus:9090" })).toEqual([
      'eventstack:delivery.gitPath must be a relative directory inside the repository such as deploy/prod/workloads (no leading /, no . or .. segments) (got "../elsewhere")',
      'eventstack:delivery.analysisPrometheusUrl must be an http or https URL (got "prometheus:9090")',
    ]);
    expect(problems({ ...ARGOCD, "eventstack:delivery.gitPath": "/deploy", "eventstack:delivery.githubRepository": "git@github.com:example-org/eventstack.git" })).toEqual([
      'eventstack:delivery.githubRepository must be a GitHub repository as its OIDC subject names it: owner/name (acme/eventstack) or, with immutable subject claims, owner@<id>/name@<id> (acme@123456/eventstack@789012); or empty (got "git@github.com:example-org/eventstack.git")',
      'eventstack:delivery.gitPath must be a relative directory inside the repository such as deploy/prod/workloads (no leading /, no . or .. segments) (got "/deploy")',
    ]);
  });
});

/** The Kubernetes objects Pulumi applies for the two workloads (their identities aside) and the migrate Job. */
function appliedWorkloadObjects(mocks: RecordingMocks) {
  const ours = (r: RecordedResource) =>
    r.custom && r.type.startsWith("kubernetes:") && r.type !== SERVICE_ACCOUNT && /^(ingest|processor)-/.test(r.name) && !r.name.endsWith("-service-account");
  return mocks.resources.filter(ours).map((r) => objectOf(r.inputs));
}

const key = (o: any) => `${o.apiVersion} ${o.kind} ${o.metadata?.name}`;
const byKey = (objects: any[]) => Object.fromEntries(objects.map((o) => [key(o), o]));

/** What render:workloads writes for this output, read back from the files. */
function renderedFiles(manifests: WorkloadManifests, stack: string): Record<string, any[]> {
  const root = mkdtempSync(path.join(tmpdir(), "eventstack-render-"));
  try {
    // A file from an earlier rendering that the program no longer builds is removed.
    writeWorkloadFiles(root, { path: manifests.path, files: { stale: [] } }, stack);
    const written = writeWorkloadFiles(root, manifests, stack);
    expect(written).toEqual(["migrate", "ingest", "processor"].map((f) => path.join(manifests.path, `${f}.yaml`)));
    expect(readdirSync(path.join(root, manifests.path)).sort()).toEqual(["ingest.yaml", "migrate.yaml", "processor.yaml"]);
    return Object.fromEntries(
      ["migrate", "ingest", "processor"].map((f) => [f, parseAllDocuments(readFileSync(path.join(root, manifests.path, `${f}.yaml`), "utf8")).map((d) => d.toJSON())]),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe.each(["dev", "prod"])("%s stack", (stack) => {
  let pulumiMode: { mocks: RecordingMocks; outputs: Record<string, any> };
  let argocdMode: { mocks: RecordingMocks; outputs: Record<string, any> };
  beforeAll(async () => {
    pulumiMode = await runProgram(stack);
    argocdMode = await runProgram(stack, ARGOCD);
  });

  describe('delivery.mode "pulumi" (the default)', () => {
    test("the program applies both workloads as Rollouts with their analyses, the migrate Job before them, and no Argo CD", () => {
      const { mocks, outputs } = pulumiMode;
      expect(mocks.ofType(ROLLOUT).map((r) => r.name).sort()).toEqual(["ingest-rollout", "processor-rollout"]);
      expect(mocks.ofType(ANALYSIS).map((r) => r.inputs.metadata.name).sort()).toEqual(["ingest-canary", "processor-canary"]);
      expect(mocks.ofType("kubernetes:apps/v1:Deployment")).toEqual([]);
      expect(mocks.ofType(JOB).map((r) => r.name)).toEqual(["migrate-job"]);
      for (const r of mocks.ofType(ROLLOUT)) expect(r.dependencies).toContainEqual(expect.stringMatching(/batch\/v1:Job::migrate-job$/));
      expect(mocks.ofType(RELEASE).map((r) => r.inputs.chart)).not.toContain("argo-cd");
      expect(mocks.ofType(CUSTOM("argoproj.io/v1alpha1", "Application"))).toEqual([]);
      expect(outputs.deliveryMode).toBe("pulumi");
      expect(outputs.workloadManifests).toBeUndefined();
    });

    test("Argo Rollouts is installed from the pinned chart on the system nodes, its CRDs owned by the program", () => {
      const { mocks } = pulumiMode;
      const release = mocks.get(RELEASE, "progressive-delivery-argo-rollouts");
      expect([release.inputs.chart, release.inputs.version, release.inputs.repositoryOpts.repo]).toEqual(["argo-rollouts", "2.41.0", "https://argoproj.github.io/argo-helm"]);
      expect(release.inputs.skipCrds).toBe(true);
      expect(release.inputs.values.installCRDs).toBe(false);
      expect(release.inputs.values.dashboard).toEqual({ enabled: false });
      expect(release.inputs.values.controller.nodeSelector).toEqual({ "eventstack.io/pool": "system" });
      expect(release.inputs.values.controller.replicas).toBe(stack === "dev" ? 1 : 2);
      expect(
        mocks
          .ofType(CONFIG_FILE)
          .map((r) => r.inputs.file)
          .filter((f: string) => f.includes("argo-rollouts")),
      ).toEqual(
        ["rollout-crd", "analysis-template-crd", "cluster-analysis-template-crd", "analysis-run-crd", "experiment-crd"].map(
          (f) => `https://raw.githubusercontent.com/argoproj/argo-rollouts/v1.9.0/manifests/crds/${f}.yaml`,
        ),
      );
    });

    test("by default the analyses read the stack's own AMP workspace with SigV4, and the controller may query exactly that workspace", () => {
      const { mocks, outputs } = pulumiMode;
      const workspace = mocks.get("aws:amp/workspace:Workspace", "metrics-workspace").state;
      // AMP's endpoint ends in "/"; Argo Rollouts appends /api/v1/query, so the address is the endpoint without it.
      expect(workspace.prometheusEndpoint).toBe(`https://aps-workspaces.${TEST_REGION}.amazonaws.com/workspaces/${workspace.id}/`);
      expect(outputs.prometheusEndpoint).toBe(workspace.prometheusEndpoint);
      const providers = mocks.ofType(ANALYSIS).flatMap((t) => t.inputs.spec.metrics.map((m: any) => m.provider.prometheus));
      expect(providers.length).toBe(5);
      for (const p of providers) {
        expect(p.address).toBe(workspace.prometheusEndpoint.replace(/\/$/, ""));
        expect(p.authentication).toEqual({ sigv4: { region: TEST_REGION } });
      }
      const association = mocks.ofType(ASSOCIATION).filter((a) => a.inputs.namespace === "argo-rollouts");
      expect(association.map((a) => a.inputs.serviceAccount)).toEqual(["argo-rollouts"]);
      const policy = JSON.parse(mocks.get("aws:iam/rolePolicy:RolePolicy", "progressive-delivery-controller-amp").inputs.policy);
      expect(policy.Statement).toEqual([
        { Sid: "QueryTheWorkspace", Effect: "Allow", Action: ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"], Resource: workspace.arn },
      ]);
    });

    test("the autoscalers scale the Rollouts", () => {
      const { mocks } = pulumiMode;
      expect(mocks.get("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "ingest-hpa").inputs.spec.scaleTargetRef).toEqual({ apiVersion: "argoproj.io/v1alpha1", kind: "Rollout", name: "ingest" });
      expect(mocks.get(CUSTOM("keda.sh/v1alpha1", "ScaledObject"), "processor-scaled-object").inputs.spec.scaleTargetRef).toEqual({
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Rollout",
        name: "processor",
      });
    });
  });

  describe('delivery.mode "argocd"', () => {
    test("the program keeps the identities, the migrate Job's network policy and everything AWS, and applies no workload object", () => {
      const { mocks } = argocdMode;
      expect(appliedWorkloadObjects(mocks)).toEqual([]);
      expect(mocks.ofType(JOB)).toEqual([]);
      expect(mocks.ofType(SERVICE_ACCOUNT).map((r) => r.inputs.metadata.name).sort()).toEqual(["ingest", "migrate", "processor"]);
      expect(mocks.ofType(ASSOCIATION).filter((a) => a.inputs.namespace === "eventstack").map((a) => a.inputs.serviceAccount).sort()).toEqual(["ingest", "migrate", "processor"]);
      expect(mocks.get("kubernetes:networking.k8s.io/v1:NetworkPolicy", "migrate-network-policy").inputs.metadata.name).toBe("migrate");
      // The same AWS resources in both modes, and the image push role of the repository argocd mode names
      // (delivery.githubRepository, which the default pulumi-mode stack leaves empty).
      const aws = (m: RecordingMocks) => m.resources.filter((r) => r.type.startsWith("aws:")).map((r) => `${r.type}::${r.name}`).sort();
      const pushRole = [
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider::image-push-github",
        "aws:iam/role:Role::image-push",
        "aws:iam/rolePolicy:RolePolicy::image-push",
      ];
      expect(aws(mocks)).toEqual([...aws(pulumiMode.mocks), ...pushRole].sort());
    });

    test("Argo CD is installed from the pinned chart: CRDs owned by the program, ClusterIP only, no admin user, no password, no Dex", () => {
      const { mocks } = argocdMode;
      const release = mocks.get(RELEASE, "argocd-argo-cd");
      expect([release.inputs.chart, release.inputs.version, release.inputs.repositoryOpts.repo, release.inputs.namespace]).toEqual(["argo-cd", "10.1.1", "https://argoproj.github.io/argo-helm", "argocd"]);
      const v = release.inputs.values;
      expect(release.inputs.skipCrds).toBe(true);
      expect(v.crds).toEqual({ install: false });
      expect(v.configs.cm["admin.enabled"]).toBe(false);
      expect(v.configs.secret).toEqual({ createSecret: true });
      expect(JSON.stringify(v)).not.toMatch(/argocdServerAdminPassword|password/i);
      expect(v.dex).toEqual({ enabled: false });
      expect(v.server.service).toEqual({ type: "ClusterIP" });
      expect(v.global.nodeSelector).toEqual({ "eventstack.io/pool": "system" });
      expect(v.global.networkPolicy).toEqual({ create: true, defaultDenyIngress: true });
      expect(
        mocks
          .ofType(CONFIG_FILE)
          .map((r) => r.inputs.file)
          .filter((f: string) => f.includes("argo-cd/")),
      ).toEqual(["application-crd", "applicationset-crd", "appproject-crd"].map((f) => `https://raw.githubusercontent.com/argoproj/argo-cd/v3.4.4/manifests/crds/${f}.yaml`));
      // Not meshed: the namespace asks for no injection.
      const ns = mocks.get("kubernetes:core/v1:Namespace", "argocd-namespace").inputs.metadata;
      expect(ns.annotations?.["linkerd.io/inject"]).toBeUndefined();
    });

    test("the Application syncs the stack's path from the configured repository, after the identities and add-ons exist", () => {
      const { mocks } = argocdMode;
      const app = mocks.get(CUSTOM("argoproj.io/v1alpha1", "Application"), "argocd-application");
      expect(app.inputs.spec.source).toEqual({ repoURL: REPO, path: `deploy/${stack}/workloads`, targetRevision: "main", directory: { recurse: false } });
      expect(app.inputs.spec.destination).toEqual({ server: "https://kubernetes.default.svc", namespace: "eventstack" });
      expect(app.inputs.spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
      expect(app.inputs.spec.project).toBe("eventstack");
      // A component in dependsOn stands for its children: here the three Pod Identity associations.
      for (const dep of ["PodIdentityAssociation::ingest-pod-identity", "PodIdentityAssociation::processor-pod-identity", "PodIdentityAssociation::migrate-pod-identity", "AppProject::argocd-project"])
        expect([dep, app.dependencies.some((u) => u.endsWith(dep))]).toEqual([dep, true]);
      const project = mocks.get(CUSTOM("argoproj.io/v1alpha1", "AppProject"), "argocd-project").inputs.spec;
      expect(project.sourceRepos).toEqual([REPO]);
      expect(project.clusterResourceWhitelist).toEqual([]);
      // Exactly the kinds the files hold.
      const rendered = Object.values(argocdMode.outputs.workloadManifests.files as Record<string, any[]>).flat();
      const kinds = [...new Set(rendered.map((o) => `${o.apiVersion.includes("/") ? o.apiVersion.split("/")[0] : ""}/${o.kind}`))].sort();
      expect(project.namespaceResourceWhitelist.map((k: any) => `${k.group}/${k.kind}`).sort()).toEqual(kinds);
    });

    test("the rendered files equal what delivery.mode pulumi applies, object for object; the migrate Job is the PreSync hook", () => {
      const files = renderedFiles(argocdMode.outputs.workloadManifests, stack);
      const applied = byKey(appliedWorkloadObjects(pulumiMode.mocks));
      const rendered = byKey([...files.ingest!, ...files.processor!]);
      expect(Object.keys(rendered).sort()).toEqual(Object.keys(applied).sort());
      for (const k of Object.keys(applied)) expect([k, rendered[k]]).toEqual([k, applied[k]]);
      // ingest: analysis, Rollout, Service, PDB, NetworkPolicy, HPA, TargetGroupBinding, five Linkerd policy objects
      // (the load balancer's and the collector's authentication and authorization, and the Server);
      // processor: analysis, Rollout, Service, PDB, NetworkPolicy, TriggerAuthentication, ScaledObject.
      expect(Object.keys(applied).length).toBe(19);

      const [hook, ...more] = files.migrate!;
      expect(more).toEqual([]);
      const job = objectOf(pulumiMode.mocks.get(JOB, "migrate-job").inputs);
      expect(hook.metadata).toEqual({
        ...job.metadata,
        name: "migrate",
        annotations: { "argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation" },
      });
      expect({ ...hook, metadata: undefined }).toEqual({ ...job, metadata: undefined });
    });

    test("the rendered objects, the Application and the AppProject are valid against the Kubernetes, Argo CD and Argo Rollouts schemas", () => {
      const files = renderedFiles(argocdMode.outputs.workloadManifests, stack);
      const argo = [CUSTOM("argoproj.io/v1alpha1", "Application"), CUSTOM("argoproj.io/v1alpha1", "AppProject")].flatMap((t) => argocdMode.mocks.ofType(t).map((r) => objectOf(r.inputs)));
      const objects = [...Object.values(files).flat(), ...argo];
      const results = validateK8sObjects(objects);
      expect(results.map((r) => r.kind).sort()).toEqual(
        expect.arrayContaining(["AnalysisTemplate", "AnalysisTemplate", "Application", "AppProject", "Job", "Rollout", "Rollout", "ScaledObject", "TargetGroupBinding"].sort()),
      );
      expect(results.filter((r) => r.error !== null)).toEqual([]);
    });

    test("the analyses read the configured Prometheus with the ingest and processor metric names", () => {
      const files = argocdMode.outputs.workloadManifests.files as Record<string, any[]>;
      const template = (f: string) => files[f]!.find((o) => o.kind === "AnalysisTemplate");
      const queries = (f: string) => Object.fromEntries(template(f).spec.metrics.map((m: any) => [m.name, m.provider.prometheus]));
      const ingest = queries("ingest");
      expect(Object.keys(ingest)).toEqual(["error-ratio", "p99-latency", "produce-error-ratio"]);
      // The stack's own workspace, resolved in the files Argo CD applies.
      const address = (argocdMode.outputs.prometheusEndpoint as string).replace(/\/$/, "");
      expect(address).toMatch(/^https:\/\/aps-workspaces\.[a-z0-9-]+\.amazonaws\.com\/workspaces\/ws-[0-9a-f-]+$/);
      for (const p of [...Object.values(ingest), ...Object.values(queries("processor"))] as any[]) {
        expect(p.address).toBe(address);
        expect(p.authentication).toEqual({ sigv4: { region: TEST_REGION } });
      }
      expect(ingest["error-ratio"].query).toContain('ingest_http_requests_total{namespace="eventstack",pod=~"ingest-{{args.canary-hash}}-.*",status=~"5.."}');
      expect(ingest["p99-latency"].query).toContain("ingest_http_request_duration_seconds_bucket");
      expect(ingest["produce-error-ratio"].query).toContain("ingest_produce_errors_total");
      const processor = queries("processor");
      expect(Object.keys(processor)).toEqual(["dead-letter-ratio", "consumer-lag"]);
      expect(processor["consumer-lag"].query).toBe('max(processor_consumer_lag{namespace="eventstack",pod=~"processor-{{args.canary-hash}}-.*"}) or vector(0)');
      const lag = template("processor").spec.metrics.find((m: any) => m.name === "consumer-lag");
      expect(lag.successCondition).toBe(`result[0] <= ${engineConfig(stack)["eventstack:processor.lagThreshold"]}`);
    });
  });
});

describe("Amazon Managed Prometheus as the analysis source", () => {
  const AMP = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-0123abcd-4567-89ef-0123-456789abcdef";
  test("the analyses sign with SigV4 and the controller may query that one workspace", async () => {
    const { mocks, outputs } = await runProgram("prod", { ...ARGOCD, "eventstack:delivery.analysisPrometheusUrl": AMP });
    const metrics = ((outputs.workloadManifests as WorkloadManifests).files.ingest as any[]).find((o) => o.kind === "AnalysisTemplate").spec.metrics;
    for (const m of metrics) expect(m.provider.prometheus).toMatchObject({ address: AMP, authentication: { sigv4: { region: "eu-west-1" } } });
    const association = mocks.ofType(ASSOCIATION).find((a) => a.inputs.namespace === "argo-rollouts")!;
    expect(association.inputs.serviceAccount).toBe("argo-rollouts");
    const policy = JSON.parse(mocks.get("aws:iam/rolePolicy:RolePolicy", "progressive-delivery-controller-amp").inputs.policy);
    expect(policy.Statement).toEqual([
      {
        Sid: "QueryTheWorkspace",
        Effect: "Allow",
        Action: ["aps:QueryMetrics", "aps:GetSeries", "aps:GetLabels", "aps:GetMetricMetadata"],
        Resource: expect.stringMatching(/^arn:aws:aps:eu-west-1:\d{12}:workspace\/ws-0123abcd-4567-89ef-0123-456789abcdef$/),
      },
    ]);
  });
});

describe("a Prometheus other than AMP as the analysis source", () => {
  const URL = "http://prometheus.monitoring.svc.cluster.local:9090";
  test("the analyses query it unsigned and the controller gets no role", async () => {
    const { mocks, outputs } = await runProgram("dev", { ...ARGOCD, "eventstack:delivery.analysisPrometheusUrl": URL });
    const files = (outputs.workloadManifests as WorkloadManifests).files as Record<string, any[]>;
    const providers = ["ingest", "processor"].flatMap((f) => files[f]!.find((o) => o.kind === "AnalysisTemplate").spec.metrics.map((m: any) => m.provider.prometheus));
    expect(providers.length).toBe(5);
    for (const p of providers) expect(p).toEqual({ address: URL, query: expect.any(String), timeout: 30 });
    expect(mocks.ofType(ASSOCIATION).filter((a) => a.inputs.namespace === "argo-rollouts")).toEqual([]);
    expect(mocks.ofType("aws:iam/role:Role").filter((r) => r.name.startsWith("progressive-delivery"))).toEqual([]);
  });
});

describe("canary building blocks", () => {
  test("only an AMP workspace query URL is signed with SigV4", () => {
    expect(ampWorkspace("https://aps-workspaces.us-east-2.amazonaws.com/workspaces/ws-abc-123/")).toEqual({ region: "us-east-2", workspaceId: "ws-abc-123" });
    expect(ampWorkspace("https://aps-workspaces.us-east-2.amazonaws.com/workspaces/ws-abc-123/api/v1/query")).toBeUndefined();
    expect(ampWorkspace("http://prometheus.monitoring.svc.cluster.local:9090")).toBeUndefined();
    expect(prometheusProvider({ url: "http://prometheus.monitoring.svc.cluster.local:9090/" }, "up")).toEqual({
      prometheus: { address: "http://prometheus.monitoring.svc.cluster.local:9090", query: "up", timeout: 30 },
    });
    expect(prometheusProvider({ url: "https://aps-workspaces.us-east-2.amazonaws.com/workspaces/ws-abc-123/", amp: { region: "us-east-2", workspaceArn: "arn" } }, "up")).toEqual({
      prometheus: { address: "https://aps-workspaces.us-east-2.amazonaws.com/workspaces/ws-abc-123", query: "up", timeout: 30, authentication: { sigv4: { region: "us-east-2" } } },
    });
  });

  test("the processor's canary needs KEDA's lag threshold, and says so", () => {
    const args = {
      name: "processor",
      component: "consumer",
      namespace: "eventstack",
      image: "example@sha256:0",
      version: "v1",
      env: {},
      vpcCidr: "10.0.0.0/16",
      dataPorts: [],
      port: 8081,
      resources: { cpuRequest: "1", memoryRequest: "1Gi", memoryLimit: "1Gi" },
      autoscaler: { kind: "hpa", minReplicas: 1, maxReplicas: 2, targetCpuUtilization: 70 },
      preStopSleepSeconds: 5,
      terminationGracePeriodSeconds: 30,
      rollout: { canary: "processor", prometheus: { url: "http://prometheus:9090" }, dependsOn: [] },
    } as unknown as WorkloadArgs;
    expect(() => workloadObjects(args)).toThrow('Workload processor: rollout.canary "processor" needs autoscaler.kind "keda" (its lagThreshold bounds the canary\'s lag)');
  });
});

describe("render:workloads", () => {
  const manifests: WorkloadManifests = { path: "deploy/dev/workloads", files: { ingest: [{ apiVersion: "v1", kind: "Service", metadata: { name: "ingest" } }] } };

  test("refuses an output that holds a secret, naming where", () => {
    expect(() => checkWorkloadManifests({ ...manifests, files: { ingest: [{ spec: { env: [{ value: "[secret]" }] } }] } }, "dev")).toThrow(
      "stack dev: workloadManifests holds secret values (ingest[0].spec.env[0].value); refusing to write them to Git",
    );
  });

  test("refuses a stack without the output (delivery mode pulumi)", () => {
    expect(() => checkWorkloadManifests(undefined, "dev")).toThrow('stack dev: the output workloadManifests is missing or not {path, files}; it exists only when eventstack:delivery.mode is "argocd"');
  });

  test("writes one multi-document file per workload, behind a header, and never outside the repository", () => {
    expect(renderFiles(manifests, "dev")).toEqual({
      "ingest.yaml":
        "# Generated by `npm run render:workloads -- --stack dev` from the stack's workloadManifests output (docs/delivery.md).\n# Do not edit: Argo CD applies this file as it is in Git, and the next rendering replaces it.\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: ingest\n",
    });
    const root = mkdtempSync(path.join(tmpdir(), "eventstack-render-"));
    try {
      writeFileSync(path.join(root, "keep.txt"), "");
      expect(() => writeWorkloadFiles(root, { ...manifests, path: "../outside" }, "dev")).toThrow('workloadManifests.path "../outside" is outside the repository');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
