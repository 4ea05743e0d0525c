// The namespace the eventstack services and their migrate Job run in.
//
// Creates one Namespace with:
//   - `linkerd.io/inject: enabled`: every pod created in it gets the Linkerd proxy;
//   - `config.linkerd.io/default-inbound-policy: all-authenticated`: a meshed pod accepts connections only from other
//     meshed pods (mTLS identities) unless a Server says otherwise. Kubelet probes stay authorized (Linkerd authorizes
//     them itself on ports without an HTTPRoute), and the one port that takes unmeshed traffic, ingest's HTTP port
//     behind the NLB, has its own Server and AuthorizationPolicy (components/workload). docs/mesh.md, "Inbound policy";
//   - `elbv2.k8s.aws/pod-readiness-gate-inject: enabled`: the AWS Load Balancer Controller adds a readiness gate to
//     pods behind a TargetGroupBinding, so a rollout waits until each new pod is healthy in the NLB's target group;
//   - the Pod Security Standards labels: `restricted` audited and warned. Not enforced: Linkerd's proxy-init container
//     needs NET_ADMIN and NET_RAW to install its iptables rules, which `restricted` (and `baseline`) forbid; running
//     linkerd-cni instead would lift that (docs/mesh.md). The program's own containers meet `restricted`, which the
//     policy pack enforces.
//
// Expects from its caller: the Kubernetes provider and Linkerd's readiness (the injector must serve before pods exist).
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PART_OF } from "./workload/pod";

export type DefaultInboundPolicy = "all-unauthenticated" | "all-authenticated" | "cluster-authenticated" | "cluster-unauthenticated" | "deny";

export interface AppsNamespaceArgs {
  kubernetesProvider: k8s.Provider;
  /** The namespace's name. Default "eventstack" (what components/workload-iam.ts's roles trust). */
  name?: string;
  /** Linkerd's default inbound policy for the namespace's pods. Default "all-authenticated". */
  defaultInboundPolicy?: DefaultInboundPolicy;
  /** Resources to wait for (Linkerd.ready). Default []. */
  dependsOn?: pulumi.Resource[];
}

export const APPS_NAMESPACE_DEFAULTS = {
  name: "eventstack",
  defaultInboundPolicy: "all-authenticated" as DefaultInboundPolicy,
  podSecurityLevel: "restricted",
};

export function appsNamespaceObject(name: string, defaultInboundPolicy: DefaultInboundPolicy) {
  const level = APPS_NAMESPACE_DEFAULTS.podSecurityLevel;
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name,
      labels: {
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
        "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled",
        "pod-security.kubernetes.io/audit": level,
        "pod-security.kubernetes.io/warn": level,
      },
      annotations: {
        "linkerd.io/inject": "enabled",
        "config.linkerd.io/default-inbound-policy": defaultInboundPolicy,
      },
    },
  };
}

export class AppsNamespace extends pulumi.ComponentResource {
  /** The namespace's name, resolved once it exists: depend on it through this output. */
  readonly name: pulumi.Output<string>;
  readonly defaultInboundPolicy: DefaultInboundPolicy;

  constructor(name: string, args: AppsNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("eventstack:apps:AppsNamespace", name, {}, opts);
    const namespaceName = args.name ?? APPS_NAMESPACE_DEFAULTS.name;
    this.defaultInboundPolicy = args.defaultInboundPolicy ?? APPS_NAMESPACE_DEFAULTS.defaultInboundPolicy;
    const object = appsNamespaceObject(namespaceName, this.defaultInboundPolicy);
    const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: object.metadata }, { parent: this, provider: args.kubernetesProvider, dependsOn: args.dependsOn ?? [] });
    this.name = namespace.metadata.name;
    this.registerOutputs();
  }
}
