// The Workload component's arguments, apart from the component so that the pure object builders (./objects.ts) can
// take them without importing the component (no import cycle; loading them loads no Pulumi resource package).
import type * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import type { DeliveryMode } from "../config";
import type { Ready } from "../ready";
import type { PodWorkloadArgs } from "./identity";
import type { CollectorPeer, HpaArgs, KafkaScaledObjectArgs } from "./manifests";
import type { Resources } from "./pod";
import type { AnalysisPrometheus } from "./rollout";

export type Autoscaler =
  | ({ kind: "hpa" } & Omit<HpaArgs, "rolloutName">)
  | ({
      kind: "keda";
      /** KEDA's CRDs and operator (PodAutoscaling.ready). */
      dependsOn: Ready;
    } & Omit<KafkaScaledObjectArgs, "rolloutName" | "triggerAuthenticationName">);

export interface WorkloadEdge {
  targetGroupArn: pulumi.Input<string>;
  loadBalancerSecurityGroupId: pulumi.Input<string>;
  /**
   * The NLB's fixed addresses (Edge.loadBalancerCidrs): the only sources admitted on the HTTP port, by the
   * NetworkPolicy and, unauthenticated, by Linkerd. Never the VPC CIDR, which every pod's address is in.
   */
  clientCidrs: pulumi.Input<string>[];
  /** The AWS Load Balancer Controller (its CRDs and webhook). */
  dependsOn: Ready;
}

/** How a new version reaches the pods: Argo Rollouts' canary and the analysis that may abort it (./rollout.ts). */
export interface WorkloadRollout {
  /**
   * Which canary: "ingest" (traffic-weighted steps under a background analysis of its HTTP and produce metrics) or
   * "processor" (one canary pod judged on dead letters and its partitions' lag; needs a KEDA autoscaler, whose
   * lagThreshold is the lag ceiling).
   */
  canary: "ingest" | "processor";
  /** Where the analysis reads its metrics (analysisPrometheus in components/progressive-delivery.ts). */
  prometheus: AnalysisPrometheus;
  /** Argo Rollouts' CRDs and controller (ProgressiveDelivery.ready). */
  dependsOn: Ready;
}

export interface WorkloadArgs extends PodWorkloadArgs {
  /** The workload's name: Rollout, Service, labels (`app.kubernetes.io/name`). */
  name: string;
  /** `app.kubernetes.io/component`, e.g. "api" or "consumer". */
  component: string;
  /** The HTTP port (health, metrics, API). */
  port: number;
  resources: Resources;
  autoscaler: Autoscaler;
  /** Seconds between the pod being marked terminating and SIGTERM: the time endpoints and targets take to drain. */
  preStopSleepSeconds: number;
  /** preStop + the service's own shutdown (SHUTDOWN_TIMEOUT_MS) + a margin. */
  terminationGracePeriodSeconds: number;
  /** Whether the pods call AWS APIs over HTTPS (reading their secrets at start). Default false. */
  awsApis?: boolean;
  /** The NLB binding; only the workload behind the API has one. */
  edge?: WorkloadEdge;
  /** Node labels the pods require. Default: the workload NodePool's `eventstack.io/pool: workloads`. */
  nodeSelector?: Record<string, string>;
  /**
   * The OpenTelemetry Collector: the NetworkPolicy lets the pods send it spans and lets it scrape `port`; behind the edge,
   * ingest's Linkerd Server also admits the collector's mesh identity (a MeshTLSAuthentication of exactly its service
   * account). Default: none.
   */
  collector?: CollectorPeer;
  rollout: WorkloadRollout;
  /**
   * Who applies the objects: "pulumi" creates them; "argocd" creates only the ServiceAccount and the Pod Identity
   * association and leaves the rest to Argo CD (`manifests`). Default "pulumi".
   */
  delivery?: DeliveryMode;
}
