// The pre-deploy step: the processor image's `migrate` command (apps/processor/src/migrate.ts), as a Kubernetes Job.
//
// It applies the SQL migrations, creates the least-privilege database roles (the processor's and a read-only one,
// granted rds_iam so they log in with IAM auth tokens) and checks the Kafka topics (Pulumi creates them through MSK's
// topic API, components/kafka.ts, so it finds them present). Every step is idempotent. It connects as the master user,
// whose password RDS keeps in Secrets Manager: the Job gets the secret's ARN, never its value, and reads it with its
// own Pod Identity role (components/workload-iam.ts, `migrate`).
//
// Delivery mode "pulumi": Pulumi waits for the Job to complete, and both Rollouts depend on it, so new pods never
// start against an unmigrated schema. The Job is replaced, so it runs again, whenever its pod template changes (a new
// image digest or new settings); its name is generated for that reason.
//
// Delivery mode "argocd": the program keeps the Job's identity and NetworkPolicy, and the Job itself is rendered with
// the workloads (`manifest`) as an Argo CD PreSync hook: Argo CD runs it before every sync applies anything and
// stops the sync if it fails; BeforeHookCreation deletes the previous run first, so its name can be fixed. Every
// step is idempotent, so a sync that changes nothing in the schema runs it harmlessly.
//
// Expects from its caller: the Kubernetes and AWS providers, the cluster name, the namespace, the processor image, the
// migrate role ARN and the non-secret environment (endpoints, names, the master secret's ARN).
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { DeliveryMode } from "./config";
import type { Ready } from "./ready";
import type { K8sObject } from "./workload/objects";
import { createPodIdentity, type PodWorkloadArgs } from "./workload/identity";
import { networkPolicy } from "./workload/manifests";
import { container, meshAnnotations, podSpec, recommendedLabels, type Resources, selectorLabels, WORKLOAD_NODE_SELECTOR } from "./workload/pod";

export interface MigrateJobArgs extends PodWorkloadArgs {
  /** The command. Default `node dist/src/migrate.js` (apps/processor/package.json "migrate"). */
  command?: string[];
  /** Container resources. Default 100m CPU, 256Mi requested, 512Mi limit. */
  resources?: Resources;
  /** Attempts before the Job fails. Default 3. */
  backoffLimit?: number;
  /** Wall-clock bound of the whole Job (seconds). Default 900: a paused Aurora Serverless v2 takes ~15 s to resume. */
  activeDeadlineSeconds?: number;
  /**
   * The workload NodePool and its EC2NodeClass (Karpenter.ready): the Job's pod selects workload nodes, which only
   * Karpenter launches; created earlier, the pod waits unschedulable while the Job's deadline runs.
   */
  nodesReady: Ready;
  /**
   * Admission webhooks that see the Job's pod (LoadBalancerController.ready): the apps' namespace opts into the
   * controller's pod webhook (readiness gates), which fails closed, so a pod created before it serves is refused.
   */
  admissionReady: Ready;
  /** Who runs the Job: "pulumi" creates it; "argocd" renders it as a PreSync hook (`manifest`). Default "pulumi". */
  delivery?: DeliveryMode;
}

/** Argo CD's hook annotations on the Job in delivery mode "argocd". */
export const PRESYNC_HOOK_ANNOTATIONS = {
  "argocd.argoproj.io/hook": "PreSync",
  "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
} as const;

export const MIGRATE_JOB_DEFAULTS = {
  name: "migrate",
  serviceAccountName: "migrate",
  command: ["node", "dist/src/migrate.js"],
  resources: { cpuRequest: "100m", memoryRequest: "256Mi", memoryLimit: "512Mi" } satisfies Resources,
  backoffLimit: 3,
  activeDeadlineSeconds: 900,
  terminationGracePeriodSeconds: 30,
  delivery: "pulumi" as DeliveryMode,
};

export class MigrateJob extends pulumi.ComponentResource {
  /** Depend on these to start only after the migrations and roles are in place: the Job in delivery mode "pulumi", none in "argocd". */
  readonly ready: pulumi.Resource[];
  readonly serviceAccountName: string;
  /** The Job as Argo CD's PreSync hook, resolved (delivery mode "argocd"); undefined in "pulumi". */
  readonly manifest: pulumi.Output<K8sObject> | undefined;

  constructor(name: string, args: MigrateJobArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:apps:MigrateJob", name, {}, opts);
    const d = MIGRATE_JOB_DEFAULTS;
    const serviceAccountName = args.serviceAccountName ?? d.serviceAccountName;
    const k8sOpts = { parent: this, provider: args.kubernetesProvider };
    const namespace = args.namespace as string;
    const labels = recommendedLabels({ name: d.name, component: "migration", version: args.version });

    const { association } = createPodIdentity(
      name,
      { namespace: args.namespace, serviceAccountName, labels, clusterName: args.clusterName, roleArn: args.roleArn, roleReady: args.roleReady },
      { parent: this, provider: opts.provider, kubernetesProvider: args.kubernetesProvider },
    );
    new k8s.networking.v1.NetworkPolicy(
      `${name}-network-policy`,
      networkPolicy(
        { name: d.name, namespace, labels },
        { podSelector: selectorLabels(d.name), ingressPorts: [], vpcCidr: args.vpcCidr, dataPorts: args.dataPorts, awsApis: true, awsApiCidrs: args.awsApiCidrs },
      ),
      k8sOpts,
    );

    const object = migrateJobObject(args);
    const hook = (args.delivery ?? d.delivery) === "argocd";
    const job = hook
      ? undefined
      : new k8s.batch.v1.Job(`${name}-job`, object, {
          ...k8sOpts,
          dependsOn: [association, ...args.meshReady, ...args.nodesReady, ...args.admissionReady, ...(args.dependsOn ?? [])],
        });

    this.ready = job ? [job] : [];
    this.serviceAccountName = serviceAccountName;
    this.manifest = hook ? (pulumi.output(object) as unknown as pulumi.Output<K8sObject>) : undefined;
    this.registerOutputs();
  }
}

/** The Job object: generated name for Pulumi, a fixed name and the PreSync hook annotations for Argo CD. */
export function migrateJobObject(args: MigrateJobArgs) {
  const d = MIGRATE_JOB_DEFAULTS;
  const serviceAccountName = args.serviceAccountName ?? d.serviceAccountName;
  const namespace = args.namespace as string;
  const labels = recommendedLabels({ name: d.name, component: "migration", version: args.version });
  const hook = (args.delivery ?? d.delivery) === "argocd";
  return {
    apiVersion: "batch/v1" as const,
    kind: "Job" as const,
    // No name for Pulumi: it generates one, so a changed template creates a new Job (which runs) before the old is deleted.
    metadata: hook ? { name: d.name, namespace, labels, annotations: { ...PRESYNC_HOOK_ANNOTATIONS } } : { namespace, labels },
    spec: {
      backoffLimit: args.backoffLimit ?? d.backoffLimit,
      activeDeadlineSeconds: args.activeDeadlineSeconds ?? d.activeDeadlineSeconds,
      template: {
        metadata: { labels, annotations: meshAnnotations(args.dataPorts) },
        spec: podSpec({
          serviceAccountName,
          restartPolicy: "Never",
          terminationGracePeriodSeconds: d.terminationGracePeriodSeconds,
          nodeSelector: WORKLOAD_NODE_SELECTOR,
          containers: [container({ name: d.name, image: args.image, command: args.command ?? d.command, env: args.env, resources: args.resources ?? d.resources })],
        }),
      },
    },
  };
}
