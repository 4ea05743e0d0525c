// Linkerd: the service mesh that gives the apps' pods mutual TLS, identity and golden metrics.
//
// Creates:
//   - the mesh PKI with @pulumi/tls: an ECDSA P-256 trust anchor (self-signed, long-lived) and an identity issuer
//     (signed by the anchor, valid `issuerValidityHours`, renewed by the first `pulumi up` inside its
//     `issuerRenewalHours` window). The private keys exist only in Pulumi state, as secrets, and in the
//     `linkerd-identity-issuer` Secret the chart creates (envelope-encrypted by the cluster's KMS key).
//     docs/mesh.md has the rotation path of both certificates;
//   - the `linkerd` namespace, then Helm `linkerd-crds` (with the Gateway API CRDs Linkerd's policy needs), then
//     `linkerd-control-plane` on the system node group, with the chart's values-ha.yaml settings when
//     `highAvailability` (replicas on separate system nodes, PDBs, pod anti-affinity, webhook failurePolicy Fail);
//   - optionally, security group rules from the control plane to the nodes on Linkerd's webhook ports, for
//     clusters whose nodes do not carry the cluster security group (see `controlPlaneSecurityGroupId`).
//
// Expects from its caller: the Kubernetes provider, the VPC CIDR (Linkerd's cluster networks: with the VPC CNI,
// pods, nodes and the internal load balancer all take addresses from it) and what system pods must wait for.
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { Ready } from "./ready";
import { systemPlacement } from "./system-nodes";
import { VERSIONS } from "./versions";
import { haValues, LINKERD_DEFAULTS, linkerdControllerReplicas, type ProxyResources } from "./defaults/linkerd";
export { haValues, LINKERD_DEFAULTS, linkerdControllerReplicas, type ProxyResources };

export interface LinkerdArgs {
  /** The provider of the cluster Linkerd is installed in. */
  kubernetesProvider: k8s.Provider;
  /**
   * Networks whose addresses Linkerd treats as in-cluster (the chart's `clusterNetworks`): for discovery, and for
   * the `cluster-*` inbound policies, which admit unauthenticated traffic from these networks only. The VPC CIDR.
   */
  clusterNetworks: pulumi.Input<string>;
  /**
   * values-ha.yaml: replicas on separate system nodes (linkerdControllerReplicas), PDBs, anti-affinity, webhooks
   * failing closed. Needs `systemNodes` >= 3. Config `mesh.highAvailability`.
   */
  highAvailability: boolean;
  /** Nodes in the system node group the control plane runs on; bounds the HA replicas. Config `cluster.systemNodes`. */
  systemNodes: number;
  /** Validity of the identity issuer certificate, in hours. Config `mesh.issuerValidityHours`. */
  issuerValidityHours: number;
  /**
   * How long before expiry the issuer is re-issued by the next `pulumi up`, in hours.
   * Default: a quarter of `issuerValidityHours`, at least 24.
   */
  issuerRenewalHours?: number;
  /** Validity of the trust anchor, in hours. Default 87600 (10 years); see docs/mesh.md before changing it. */
  trustAnchorValidityHours?: number;
  /** Resources of every injected proxy. Default: 100m CPU and 64Mi requested, 256Mi memory limit. */
  proxyResources?: ProxyResources;
  /**
   * The security group of the EKS control plane ENIs. When set, `nodeSecurityGroupId` admits it on Linkerd's webhook
   * ports (proxy injector 8443, service-profile validator 8443, policy validator 9443, policy admission 8089 — the
   * container ports behind the webhook Services). Default: unset, because eventstack's nodes carry the cluster
   * security group itself, which admits all traffic from its own members (components/system-nodes.ts).
   */
  controlPlaneSecurityGroupId?: pulumi.Input<string>;
  /** The nodes' security group; required with `controlPlaneSecurityGroupId`. */
  nodeSecurityGroupId?: pulumi.Input<string>;
  /** Resources to wait for before installing (the system nodes, CoreDNS). Default []. */
  dependsOn?: pulumi.Resource[];
  /** Namespace of the control plane. Default "linkerd". */
  namespace?: string;
}

export interface ControlPlaneValuesInput {
  trustAnchorPem: string;
  issuerCertPem: string;
  issuerKeyPem: string;
  clusterNetworks: string;
  highAvailability: boolean;
  /** Nodes in the system node group, which the control plane runs on. */
  systemNodes: number;
  proxyResources: ProxyResources;
}

/** The linkerd-control-plane chart values. */
export function controlPlaneValues(v: ControlPlaneValuesInput): Record<string, unknown> {
  return {
    identityTrustAnchorsPEM: v.trustAnchorPem,
    identity: { issuer: { tls: { crtPEM: v.issuerCertPem, keyPEM: v.issuerKeyPem } } },
    clusterNetworks: v.clusterNetworks,
    // The chart's default stays (all-unauthenticated) for namespaces that say nothing; the apps' namespace sets its
    // own with the config.linkerd.io/default-inbound-policy annotation (components/apps-namespace.ts, docs/mesh.md).
    proxy: {
      resources: {
        cpu: { request: v.proxyResources.cpuRequest },
        memory: { request: v.proxyResources.memoryRequest, limit: v.proxyResources.memoryLimit },
      },
      // Kubernetes >= 1.29 sidecar containers: the proxy starts before the app and stops after it, so the app's
      // preStop drain still has a proxy for its inbound connections, and a meshed Job can complete.
      nativeSidecar: true,
    },
    nodeSelector: { "kubernetes.io/os": "linux", ...systemPlacement.nodeSelector },
    tolerations: systemPlacement.tolerations,
    ...(v.highAvailability ? haValues(linkerdControllerReplicas(v.systemNodes, true)) : {}),
  };
}

/** A quarter of the validity, at least a day: a weekly deploy cadence renews a 90-day issuer with weeks to spare. */
export function defaultRenewalHours(validityHours: number): number {
  return Math.max(LINKERD_DEFAULTS.minimumRenewalHours, Math.floor(validityHours / 4));
}

/** The arguments with their defaults, checked: throws one actionable message for a combination that cannot work. */
export function linkerdSettings(args: LinkerdArgs) {
  const namespace = args.namespace ?? LINKERD_DEFAULTS.namespace;
  const trustAnchorValidityHours = args.trustAnchorValidityHours ?? LINKERD_DEFAULTS.trustAnchorValidityHours;
  const issuerRenewalHours = args.issuerRenewalHours ?? defaultRenewalHours(args.issuerValidityHours);
  const proxyResources = args.proxyResources ?? LINKERD_DEFAULTS.proxyResources;
  const dependsOn = args.dependsOn ?? [];
  if (issuerRenewalHours >= args.issuerValidityHours) {
    throw new Error(`Linkerd: issuerRenewalHours (${issuerRenewalHours}) must be less than issuerValidityHours (${args.issuerValidityHours}), or every deployment would re-issue the issuer`);
  }
  if (args.issuerValidityHours >= trustAnchorValidityHours) {
    throw new Error(`Linkerd: issuerValidityHours (${args.issuerValidityHours}) must be less than trustAnchorValidityHours (${trustAnchorValidityHours}); an issuer cannot outlive its trust anchor`);
  }
  if (args.highAvailability && args.systemNodes < LINKERD_DEFAULTS.haMinimumSystemNodes) {
    throw new Error(`Linkerd: highAvailability needs at least ${LINKERD_DEFAULTS.haMinimumSystemNodes} system nodes (got ${args.systemNodes}): its replicas require separate nodes, and a drained node's replica needs a free one`);
  }
  if ((args.controlPlaneSecurityGroupId === undefined) !== (args.nodeSecurityGroupId === undefined)) {
    throw new Error("Linkerd: set controlPlaneSecurityGroupId and nodeSecurityGroupId together (the webhook rules need both), or neither");
  }
  return { namespace, trustAnchorValidityHours, issuerRenewalHours, proxyResources, dependsOn };
}

export class Linkerd extends pulumi.ComponentResource {
  readonly namespace: string;
  /** The trust anchor certificate (public): what a second cluster or an external verifier would trust. */
  readonly trustAnchorPem: pulumi.Output<string>;
  /** The identity issuer certificate (public) and its expiry (RFC 3339). */
  readonly issuerCertPem: pulumi.Output<string>;
  readonly issuerValidUntil: pulumi.Output<string>;
  /**
   * Depend on this before creating meshed pods or Linkerd policy objects: the CRDs exist and the proxy injector and
   * policy validator are serving.
   */
  readonly ready: Ready;

  constructor(name: string, args: LinkerdArgs, opts: pulumi.ComponentResourceOptions & { provider: aws.Provider }) {
    super("eventstack:mesh:Linkerd", name, {}, opts);
    // Before any resource: a mismatched argument must not leave a half-declared mesh behind.
    const { namespace, trustAnchorValidityHours, issuerRenewalHours, proxyResources, dependsOn } = linkerdSettings(args);
    const tlsOpts = { parent: this };
    const k8sOpts = { parent: this, provider: args.kubernetesProvider };

    // Linkerd requires ECDSA P-256 for both certificates.
    const trustAnchorKey = new tls.PrivateKey(`${name}-trust-anchor`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, tlsOpts);
    const trustAnchor = new tls.SelfSignedCert(
      `${name}-trust-anchor`,
      {
        privateKeyPem: trustAnchorKey.privateKeyPem,
        subject: { commonName: LINKERD_DEFAULTS.trustAnchorCommonName },
        isCaCertificate: true,
        // The path length is limited here, on the anchor, because the provider cannot write 0 on the issuer (below):
        // at most one CA (the issuer) between the anchor and a leaf. Go's x509 verification (Linkerd's identity
        // controller) enforces it on the anchor too. Changing it re-issues the anchor: see docs/mesh.md.
        maxPathLength: LINKERD_DEFAULTS.trustAnchorMaxPathLength,
        validityPeriodHours: trustAnchorValidityHours,
        allowedUses: ["cert_signing", "crl_signing"],
      },
      tlsOpts,
    );
    const issuerKey = new tls.PrivateKey(`${name}-issuer`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, tlsOpts);
    const issuerRequest = new tls.CertRequest(`${name}-issuer`, { privateKeyPem: issuerKey.privateKeyPem, subject: { commonName: LINKERD_DEFAULTS.issuerCommonName } }, tlsOpts);
    const issuer = new tls.LocallySignedCert(
      `${name}-issuer`,
      {
        certRequestPem: issuerRequest.certRequestPem,
        caPrivateKeyPem: trustAnchorKey.privateKeyPem,
        caCertPem: trustAnchor.certPem,
        isCaCertificate: true,
        // No maxPathLength: the issuer should carry pathlen 0 (it signs proxy leaves only), but the provider cannot
        // write 0. terraform-provider-tls v4.2.1 (internal/provider/common_cert.go, read 2026-12-05; @pulumi/tls 5.6.1
        // wraps v4.3.0, whose source was not available) sets only x509.Certificate.MaxPathLen, and Go's x509 reads
        // MaxPathLen 0 without MaxPathLenZero as "unset": the certificate would say CA:TRUE with no path length. The
        // anchor's pathlen 1 bounds the chain instead (docs/mesh.md, "Path length").
        validityPeriodHours: args.issuerValidityHours,
        earlyRenewalHours: issuerRenewalHours,
        allowedUses: ["cert_signing", "crl_signing"],
      },
      tlsOpts,
    );

    const ns = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      // The proxy injector must never inject the control plane into itself.
      { metadata: { name: namespace, labels: { "config.linkerd.io/admission-webhooks": "disabled", "linkerd.io/is-control-plane": "true" } } },
      { ...k8sOpts, dependsOn },
    );

    // The CRDs as Pulumi-managed objects (helm.v4.Chart renders each one as a resource), not a Helm Release: the apps'
    // Server and AuthorizationPolicy objects are declared in this same program, and the provider must know their kinds
    // when it creates them (pulumi-kubernetes #3188/#3176; components/karpenter/index.ts has the whole argument).
    const crds = new k8s.helm.v4.Chart(
      `${name}-crds`,
      {
        chart: VERSIONS.charts.linkerdCrds.chart,
        version: VERSIONS.charts.linkerdCrds.version,
        repositoryOpts: { repo: VERSIONS.charts.linkerdCrds.repo },
        namespace: ns.metadata.name,
        // Linkerd's authorization policy and routing use Gateway API kinds; nothing else in this cluster installs
        // them, so the Linkerd release that is known to be compatible does (docs/mesh.md, "Gateway API").
        values: { installGatewayAPI: true },
      },
      { ...k8sOpts, dependsOn: [ns] },
    );

    const values = pulumi
      .all([trustAnchor.certPem, issuer.certPem, issuerKey.privateKeyPem, args.clusterNetworks])
      .apply(([trustAnchorPem, issuerCertPem, issuerKeyPem, clusterNetworks]) =>
        controlPlaneValues({ trustAnchorPem, issuerCertPem, issuerKeyPem, clusterNetworks, highAvailability: args.highAvailability, systemNodes: args.systemNodes, proxyResources }),
      );
    const controlPlane = new k8s.helm.v3.Release(
      `${name}-control-plane`,
      {
        name: "linkerd-control-plane",
        chart: VERSIONS.charts.linkerdControlPlane.chart,
        version: VERSIONS.charts.linkerdControlPlane.version,
        repositoryOpts: { repo: VERSIONS.charts.linkerdControlPlane.repo },
        namespace: ns.metadata.name,
        // The CRDs belong to the chart above; Helm must never own (or delete) them.
        skipCrds: true,
        // The values carry the issuer's private key: secret in state, whatever the provider does with its outputs.
        values: pulumi.secret(values),
      },
      { ...k8sOpts, dependsOn: [crds, ...dependsOn] },
    );

    if (args.controlPlaneSecurityGroupId !== undefined && args.nodeSecurityGroupId !== undefined) {
      for (const port of LINKERD_DEFAULTS.webhookPorts) {
        new aws.vpc.SecurityGroupIngressRule(
          `${name}-webhook-${port}`,
          {
            securityGroupId: args.nodeSecurityGroupId,
            referencedSecurityGroupId: args.controlPlaneSecurityGroupId,
            ipProtocol: "tcp",
            fromPort: port,
            toPort: port,
            description: `EKS control plane to Linkerd admission webhooks (${port})`,
          },
          { parent: this, provider: opts.provider },
        );
      }
    }

    this.namespace = namespace;
    this.trustAnchorPem = trustAnchor.certPem;
    this.issuerCertPem = issuer.certPem;
    this.issuerValidUntil = issuer.validityEndTime;
    this.ready = [crds, controlPlane];
    this.registerOutputs();
  }
}
