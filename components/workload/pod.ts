// The pod template every eventstack workload shares (the two services and the migrate Job): labels, the restricted
// security context, resources, probes, the mesh annotations and the service account. Pure functions over Pulumi
// inputs, so that tests validate exactly what is applied against the Kubernetes schemas.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

type Container = k8s.types.input.core.v1.Container;
type PodSpec = k8s.types.input.core.v1.PodSpec;

/** The UID and GID of the distroless `nonroot` user the service images run as (apps/ingest/Dockerfile). */
export const NONROOT_ID = 65532;

/** Where the services' pods run: Linux nodes of the workload NodePool (components/karpenter/manifests.ts). */
export const WORKLOAD_NODE_SELECTOR: Record<string, string> = { "kubernetes.io/os": "linux", "eventstack.io/pool": "workloads" };

/** The system that every workload's `app.kubernetes.io/part-of` names. */
export const PART_OF = "eventstack";

/**
 * Kubernetes' recommended labels (kubernetes.io/docs/concepts/overview/working-with-objects/common-labels).
 * `name` and `instance` select pods; `version` (the image's content tag) changes with every rollout, so it is never
 * part of a selector.
 */
export function recommendedLabels(a: { name: string; component: string; version: string }): Record<string, string> {
  return {
    "app.kubernetes.io/name": a.name,
    "app.kubernetes.io/instance": `${PART_OF}-${a.name}`,
    "app.kubernetes.io/version": a.version,
    "app.kubernetes.io/component": a.component,
    "app.kubernetes.io/part-of": PART_OF,
    "app.kubernetes.io/managed-by": "pulumi",
  };
}

/** The labels that select one workload's pods: stable across rollouts. */
export function selectorLabels(name: string): Record<string, string> {
  return { "app.kubernetes.io/name": name, "app.kubernetes.io/instance": `${PART_OF}-${name}` };
}

/**
 * The "restricted" Pod Security Standard, at container level: non-root, no privilege escalation, read-only root
 * filesystem, every capability dropped, the runtime's default seccomp profile.
 */
export function restrictedContainerSecurityContext(): k8s.types.input.core.v1.SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: NONROOT_ID,
    runAsGroup: NONROOT_ID,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/** The same at pod level, which also covers containers injected at admission (Linkerd's proxy sets its own). */
export function restrictedPodSecurityContext(): k8s.types.input.core.v1.PodSecurityContext {
  return { runAsNonRoot: true, runAsUser: NONROOT_ID, runAsGroup: NONROOT_ID, fsGroup: NONROOT_ID, seccompProfile: { type: "RuntimeDefault" } };
}

export interface Resources {
  cpuRequest: string;
  memoryRequest: string;
  /** The only limit: a leak is OOM-killed in its own container. No CPU limit, which would throttle every request. */
  memoryLimit: string;
}

export function resourceRequirements(r: Resources): k8s.types.input.core.v1.ResourceRequirements {
  return { requests: { cpu: r.cpuRequest, memory: r.memoryRequest }, limits: { memory: r.memoryLimit } };
}

/** An environment variable from a literal that is never a secret (endpoints, names, modes). */
export type Env = Record<string, pulumi.Input<string>>;

export function envList(env: Env): k8s.types.input.core.v1.EnvVar[] {
  return Object.entries(env).map(([name, value]) => ({ name, value }));
}

/**
 * Linkerd annotations on the pod template. The namespace already asks for injection; repeating it on the pod keeps
 * the intent visible where the pod is declared. Connections to the data services (Aurora 5432, Valkey 6379, MSK 9098)
 * bypass the proxy: they are TLS that the application itself opens to endpoints outside the cluster, where Linkerd can
 * add neither mTLS nor HTTP metrics, and where opaque ports do not apply (they describe in-cluster destinations).
 * docs/mesh.md, "Off-cluster TLS databases".
 */
export function meshAnnotations(skipOutboundPorts: number[]): Record<string, string> {
  return {
    "linkerd.io/inject": "enabled",
    ...(skipOutboundPorts.length > 0 ? { "config.linkerd.io/skip-outbound-ports": skipOutboundPorts.join(",") } : {}),
  };
}

/** A scratch directory for Node and its libraries, since the root filesystem is read-only. */
export const TMP_VOLUME = { name: "tmp", mountPath: "/tmp", sizeLimit: "64Mi" } as const;

export interface ContainerArgs {
  name: string;
  image: pulumi.Input<string>;
  command?: string[];
  env: Env;
  resources: Resources;
  /** HTTP port the container serves, if any. */
  port?: { name: string; containerPort: number };
  probes?: { port: string; livenessPath: string; readinessPath: string };
  /** Seconds kubelet waits in preStop before SIGTERM (the LoadBalancer/Service drain window). */
  preStopSleepSeconds?: number;
}

/**
 * The one container of a workload. The startup probe gives Node and the first Kafka/DB connections a minute before
 * liveness applies; liveness is only /healthz (the process is alive), readiness is /readyz (dependencies reachable),
 * so a broker outage takes pods out of rotation without restarting them.
 */
export function container(a: ContainerArgs): Container {
  const httpGet = (path: string) => ({ path, port: a.probes!.port, scheme: "HTTP" });
  return {
    name: a.name,
    image: a.image,
    imagePullPolicy: "IfNotPresent",
    ...(a.command ? { command: a.command } : {}),
    ...(a.port ? { ports: [{ name: a.port.name, containerPort: a.port.containerPort, protocol: "TCP" }] } : {}),
    env: envList(a.env),
    resources: resourceRequirements(a.resources),
    securityContext: restrictedContainerSecurityContext(),
    volumeMounts: [{ name: TMP_VOLUME.name, mountPath: TMP_VOLUME.mountPath }],
    ...(a.probes
      ? {
          startupProbe: { httpGet: httpGet(a.probes.livenessPath), periodSeconds: 2, failureThreshold: 30, timeoutSeconds: 2 },
          livenessProbe: { httpGet: httpGet(a.probes.livenessPath), periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 },
          readinessProbe: { httpGet: httpGet(a.probes.readinessPath), periodSeconds: 5, failureThreshold: 2, timeoutSeconds: 2 },
        }
      : {}),
    // The sleep action needs no shell or `sleep` binary, which the distroless images do not have.
    ...(a.preStopSleepSeconds ? { lifecycle: { preStop: { sleep: { seconds: a.preStopSleepSeconds } } } } : {}),
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

export interface PodSpecArgs {
  serviceAccountName: pulumi.Input<string>;
  containers: Container[];
  terminationGracePeriodSeconds: number;
  restartPolicy?: "Always" | "Never" | "OnFailure";
  /** Spread over zones and hosts, for long-running workloads. */
  spreadLabels?: Record<string, string>;
  nodeSelector?: Record<string, string>;
}

export function podSpec(a: PodSpecArgs): PodSpec {
  return {
    serviceAccountName: a.serviceAccountName,
    // The services never call the Kubernetes API. EKS Pod Identity and Linkerd's identity each mount their own
    // projected token with its own audience, so they do not need this one.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: restrictedPodSecurityContext(),
    containers: a.containers,
    volumes: [{ name: TMP_VOLUME.name, emptyDir: { medium: "Memory", sizeLimit: TMP_VOLUME.sizeLimit } }],
    terminationGracePeriodSeconds: a.terminationGracePeriodSeconds,
    ...(a.restartPolicy ? { restartPolicy: a.restartPolicy } : {}),
    ...(a.nodeSelector ? { nodeSelector: a.nodeSelector } : {}),
    ...(a.spreadLabels
      ? {
          // Zones strictly (Karpenter launches a node in the zone that keeps the skew), hosts as a preference.
          topologySpreadConstraints: [
            { maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: a.spreadLabels } },
            { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: a.spreadLabels } },
          ],
        }
      : {}),
  };
}
