// Linkerd over both stacks: the mesh PKI (ECDSA P-256 trust anchor and issuer, private keys only as secrets), the
// pinned CRD and control-plane charts in that order, HA values in prod only, proxy resources, the cluster networks,
// and the webhook reachability from the EKS control plane.
import { LINKERD_DEFAULTS, linkerdSettings } from "../components/linkerd";
import { VERSIONS } from "../components/versions";
import type { RecordedResource, RecordingMocks } from "./mocks";
import { engineConfig, runProgram, runWithMocks } from "./program";

const RELEASE = "kubernetes:helm.sh/v3:Release";
/** How the Pulumi runtime marks a secret value on the wire (and so in the mocks' recorded inputs). */
const SECRET = "4dabf18193072939515e22adb298388d";
const isSecret = (v: unknown): v is { value: unknown } => typeof v === "object" && v !== null && SECRET in v;
const urnOf = (r: RecordedResource) => expect.stringMatching(new RegExp(`[$:]${r.type.replace(/[/.$]/g, "\\$&")}::${r.name}$`));

describe.each(["dev", "prod"])("%s stack", (stack) => {
  let mocks: RecordingMocks;
  const config = engineConfig(stack);
  beforeAll(async () => {
    ({ mocks } = await runProgram(stack));
  });
  const controlPlane = () => mocks.get(RELEASE, "mesh-control-plane");
  const values = () => {
    const v = controlPlane().inputs.values;
    if (!isSecret(v)) throw new Error("the control plane's values are not a secret");
    return v.value as Record<string, any>;
  };

  describe("certificates", () => {
    test("trust anchor and issuer keys are ECDSA P-256, as Linkerd requires", () => {
      for (const name of ["mesh-trust-anchor", "mesh-issuer"]) {
        expect(mocks.get("tls:index/privateKey:PrivateKey", name).inputs).toEqual({ algorithm: "ECDSA", ecdsaCurve: "P256" });
      }
    });

    test("the trust anchor is a long-lived self-signed CA; the issuer is signed by it, valid for the configured hours, renewed early, and signs only leaves", () => {
      const anchorKey = mocks.get("tls:index/privateKey:PrivateKey", "mesh-trust-anchor").state;
      const anchor = mocks.get("tls:index/selfSignedCert:SelfSignedCert", "mesh-trust-anchor");
      expect(anchor.inputs).toMatchObject({ isCaCertificate: true, validityPeriodHours: 87600, allowedUses: ["cert_signing", "crl_signing"], subject: { commonName: "root.linkerd.cluster.local" } });
      const issuer = mocks.get("tls:index/locallySignedCert:LocallySignedCert", "mesh-issuer").inputs;
      const validity = Number(config["eventstack:mesh.issuerValidityHours"]);
      expect(issuer).toMatchObject({ caCertPem: anchor.state.certPem, isCaCertificate: true, validityPeriodHours: validity, earlyRenewalHours: Math.floor(validity / 4) });
      const caKey = isSecret(issuer.caPrivateKeyPem) ? issuer.caPrivateKeyPem.value : issuer.caPrivateKeyPem;
      expect(caKey).toBe(anchorKey.privateKeyPem);
      expect(mocks.get("tls:index/certRequest:CertRequest", "mesh-issuer").inputs.subject).toEqual({ commonName: "identity.linkerd.cluster.local" });
    });

    test("the chain's path length is bounded at the anchor (pathlen 1), since the provider writes no pathlen for a maxPathLength of 0", () => {
      // terraform-provider-tls sets x509.Certificate.MaxPathLen only, and Go reads 0 without MaxPathLenZero as unset:
      // asking for 0 on the issuer would emit CA:TRUE with no path length and look like a limit that is not there.
      expect(mocks.get("tls:index/selfSignedCert:SelfSignedCert", "mesh-trust-anchor").inputs.maxPathLength).toBe(1);
      expect(mocks.get("tls:index/locallySignedCert:LocallySignedCert", "mesh-issuer").inputs).not.toHaveProperty("maxPathLength");
    });

    test("the control plane gets the anchor and the issuer's certificate and key, in values stored as a secret", () => {
      const v = values();
      expect(v.identityTrustAnchorsPEM).toBe(mocks.get("tls:index/selfSignedCert:SelfSignedCert", "mesh-trust-anchor").state.certPem);
      expect(v.identity.issuer.tls.crtPEM).toBe(mocks.get("tls:index/locallySignedCert:LocallySignedCert", "mesh-issuer").state.certPem);
      expect(v.identity.issuer.tls.keyPEM).toBe(mocks.get("tls:index/privateKey:PrivateKey", "mesh-issuer").state.privateKeyPem);
    });

    test("no private key appears anywhere outside a secret", () => {
      const keys = mocks.ofType("tls:index/privateKey:PrivateKey").map((k) => k.state.privateKeyPem as string);
      const exposed = (v: unknown): boolean => {
        if (isSecret(v)) return false;
        if (typeof v === "string") return keys.some((k) => v.includes(k.split("\n")[1]!));
        if (Array.isArray(v)) return v.some(exposed);
        if (v && typeof v === "object") return Object.values(v).some(exposed);
        return false;
      };
      const leaks = mocks.resources.filter((r) => r.type !== "tls:index/privateKey:PrivateKey" && exposed(r.inputs)).map((r) => `${r.type}::${r.name}`);
      expect(leaks).toEqual([]);
    });
  });

  describe("charts", () => {
    test("linkerd-crds (Pulumi-managed CRDs, with the Gateway API) then linkerd-control-plane, same pinned release, Helm owning no CRD", () => {
      const crds = mocks.get("kubernetes:helm.sh/v4:Chart", "mesh-crds");
      expect(crds.inputs).toMatchObject({ chart: "linkerd-crds", version: VERSIONS.charts.linkerdCrds.version, repositoryOpts: { repo: VERSIONS.charts.linkerdCrds.repo }, values: { installGatewayAPI: true } });
      const release = controlPlane().inputs;
      expect([release.chart, release.version, release.namespace, release.skipCrds]).toEqual(["linkerd-control-plane", VERSIONS.charts.linkerdControlPlane.version, "linkerd", true]);
      expect(VERSIONS.charts.linkerdCrds.version).toBe(VERSIONS.charts.linkerdControlPlane.version);
      expect(controlPlane().dependencies).toContainEqual(urnOf(crds));
      expect(mocks.get("kubernetes:core/v1:Namespace", "mesh-namespace").inputs.metadata.labels).toEqual({ "config.linkerd.io/admission-webhooks": "disabled", "linkerd.io/is-control-plane": "true" });
    });

    test("proxy resources are set, the proxy runs as a native sidecar, and the cluster networks are the VPC", () => {
      expect(values().proxy).toEqual({ resources: { cpu: { request: "100m" }, memory: { request: "64Mi", limit: "256Mi" } }, nativeSidecar: true });
      expect(values().clusterNetworks).toBe(mocks.get("awsx:ec2:Vpc", "network-vpc").inputs.cidrBlock);
    });

    test("the control plane runs on the system node group", () => {
      const group = mocks.get("aws:eks/nodeGroup:NodeGroup", "cluster-system").inputs;
      for (const [key, value] of Object.entries(values().nodeSelector)) if (key !== "kubernetes.io/os") expect(group.labels[key]).toBe(value);
      expect(values().tolerations).toEqual([{ key: "CriticalAddonsOnly", operator: "Exists", effect: "NoSchedule" }]);
    });

    test(`high availability ${stack === "prod" ? "on" : "off"}: replicas, PodDisruptionBudgets, anti-affinity, webhooks failing closed`, () => {
      // Prod's 3 system nodes: 2 replicas (each on its own node, required anti-affinity) and a node to drain into.
      const ha = { controllerReplicas: 2, enablePodDisruptionBudget: true, enablePodAntiAffinity: true, webhookFailurePolicy: "Fail" };
      if (stack === "prod") expect(values()).toMatchObject(ha);
      else for (const key of Object.keys(ha)) expect(values()).not.toHaveProperty(key);
    });

    test("only values keys a template of the pinned chart reads: no controllerResources (values-ha.yaml sets it, nothing reads it)", () => {
      expect(values()).not.toHaveProperty("controllerResources");
    });
  });

  test("the EKS control plane reaches Linkerd's webhooks: every node carries the cluster security group, which admits its own members", () => {
    // No security group on the system nodes' launch template (EKS then attaches the cluster security group), and
    // Karpenter's nodes select exactly that group; the control plane's ENIs carry it too.
    expect(mocks.get("aws:ec2/launchTemplate:LaunchTemplate", "cluster-system").inputs).not.toHaveProperty("vpcSecurityGroupIds");
    const eks = mocks.get("eks:index:Cluster", "cluster-eks").state;
    expect(eks.nodeSecurityGroupId).toBe(eks.clusterSecurityGroupId);
    expect(mocks.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter((r) => r.name.startsWith("mesh-webhook"))).toEqual([]);
  });
});

describe("for nodes that do not carry the cluster security group", () => {
  test("the control plane's group is admitted on each webhook port of the nodes' group", async () => {
    const { mocks } = await runWithMocks("prod", {}, () => {
      const aws = require("@pulumi/aws") as typeof import("@pulumi/aws");
      const k8s = require("@pulumi/kubernetes") as typeof import("@pulumi/kubernetes");
      const { Linkerd } = require("../components/linkerd") as typeof import("../components/linkerd");
      const provider = new aws.Provider("aws", { region: "eu-west-1" });
      new Linkerd(
        "mesh",
        { kubernetesProvider: new k8s.Provider("k8s", {}), clusterNetworks: "10.0.0.0/16", highAvailability: true, systemNodes: 3, issuerValidityHours: 8760, controlPlaneSecurityGroupId: "sg-control", nodeSecurityGroupId: "sg-nodes" },
        { provider },
      );
      return {};
    });
    const rules = mocks.ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map((r) => r.inputs);
    expect(rules).toEqual(
      LINKERD_DEFAULTS.webhookPorts.map((port) => expect.objectContaining({ securityGroupId: "sg-nodes", referencedSecurityGroupId: "sg-control", ipProtocol: "tcp", fromPort: port, toPort: port })),
    );
  });

  test("mismatched arguments are refused before any resource, with the fix", () => {
    const base = { kubernetesProvider: undefined as never, clusterNetworks: "10.0.0.0/16", highAvailability: false, systemNodes: 1 };
    const create = (args: object) => () => linkerdSettings({ ...base, issuerValidityHours: 8760, ...args });
    expect(create({ controlPlaneSecurityGroupId: "sg-1" })).toThrow("Linkerd: set controlPlaneSecurityGroupId and nodeSecurityGroupId together (the webhook rules need both), or neither");
    expect(create({ issuerValidityHours: 87600 })).toThrow("Linkerd: issuerValidityHours (87600) must be less than trustAnchorValidityHours (87600); an issuer cannot outlive its trust anchor");
    expect(create({ highAvailability: true, systemNodes: 2 })).toThrow(
      "Linkerd: highAvailability needs at least 3 system nodes (got 2): its replicas require separate nodes, and a drained node's replica needs a free one",
    );
    expect(create({ issuerRenewalHours: 9000 })).toThrow("Linkerd: issuerRenewalHours (9000) must be less than issuerValidityHours (8760), or every deployment would re-issue the issuer");
  });
});
