// The schema check can fail: it rejects broken objects and unknown kinds, and accepts valid ones.
import { validateK8sObjects } from "./k8s-schema";

const deployment = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web" },
  spec: {
    selector: { matchLabels: { app: "web" } },
    template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "nginx:1.27" }] } },
  },
};

const nodePool = {
  apiVersion: "karpenter.sh/v1",
  kind: "NodePool",
  metadata: { name: "default" },
  spec: {
    template: { spec: { nodeClassRef: { group: "karpenter.k8s.aws", kind: "EC2NodeClass", name: "default" }, requirements: [] } },
    disruption: { consolidationPolicy: "WhenEmptyOrUnderutilized", consolidateAfter: "1m" },
  },
};

test("valid objects pass", () => {
  expect(validateK8sObjects([deployment, nodePool])).toEqual([
    { kind: "Deployment", name: "web", error: null },
    { kind: "NodePool", name: "default", error: null },
  ]);
});

test("a Deployment without a selector and with a numeric image is rejected", () => {
  const { selector: _, ...spec } = deployment.spec;
  const broken = { ...deployment, spec: { ...spec, template: { ...spec.template, spec: { containers: [{ name: "web", image: 42 }] } } } };
  const [result] = validateK8sObjects([broken]);
  expect(result!.error).toContain("must have required property selector");
  expect(result!.error).toContain("image");
});

test("a NodePool with an unknown consolidation policy and no nodeClassRef is rejected", () => {
  const broken = {
    ...nodePool,
    spec: { template: { spec: { requirements: [] } }, disruption: { consolidationPolicy: "WhenIdle", consolidateAfter: "1m" } },
  };
  const [result] = validateK8sObjects([broken]);
  expect(result!.error).toContain("nodeClassRef");
  expect(result!.error).toContain("consolidationPolicy");
});

test("a kind without a published schema is an error, not a pass", () => {
  expect(validateK8sObjects([{ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }])).toEqual([
    { kind: "Widget", name: "w", error: 'no schema for apiVersion "example.com/v1" kind "Widget"' },
  ]);
});
