// The edge over both stacks: API Gateway (HTTP API) → VPC link → the program's internal NLB → ingest's pods,
// registered by the AWS Load Balancer Controller's TargetGroupBinding. Each link is checked by the value that
// joins it (listener ARN, target group ARN, security group ids, Service name and port), plus throttling, CORS, the
// access log, the authorizer, the payload limit and the custom domain, and the images the Rollouts run.
import { ACCESS_LOG_FORMAT, checkHttpApiArgs, HTTP_API_DEFAULTS } from "../components/edge";
import { imageTag } from "../components/image-inputs";
import { VERSIONS } from "../components/versions";
import type { RecordedResource, RecordingMocks } from "./mocks";
import { BUILD_IMAGES, engineConfig, ROOT, runProgram, TEST_REGION } from "./program";

const CR = (kind: string) => `kubernetes:${kind}`;
const urnOf = (r: RecordedResource) => expect.stringMatching(new RegExp(`[$:]${r.type.replace(/[/.$]/g, "\\$&")}::${r.name}$`));
/** API Gateway's hard limit on an HTTP API request body. */
const HTTP_API_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

describe.each(["dev", "prod"])("%s stack", (stack) => {
  let mocks: RecordingMocks;
  let outputs: Record<string, any>;
  const config = engineConfig(stack);
  const get = (type: string, name: string) => mocks.get(type, name);
  beforeAll(async () => {
    ({ mocks, outputs } = await runProgram(stack));
  });

  describe("API Gateway → VPC link → NLB", () => {
    test("the integration targets the NLB's listener through the VPC link, in the private subnets", () => {
      const listener = get("aws:lb/listener:Listener", "edge-listener");
      const vpcLink = get("aws:apigatewayv2/vpcLink:VpcLink", "edge-vpc-link");
      const integration = get("aws:apigatewayv2/integration:Integration", "edge-integration").inputs;
      expect(integration).toMatchObject({
        apiId: get("aws:apigatewayv2/api:Api", "edge-api").state.id,
        integrationType: "HTTP_PROXY",
        integrationMethod: "ANY",
        connectionType: "VPC_LINK",
        connectionId: vpcLink.state.id,
        integrationUri: listener.state.arn,
        payloadFormatVersion: "1.0",
        timeoutMilliseconds: 10000,
        requestParameters: { "overwrite:header.x-request-id": "$context.requestId" },
      });
      expect(vpcLink.inputs.securityGroupIds).toEqual([get("aws:ec2/securityGroup:SecurityGroup", "edge-vpc-link-sg").state.id]);
      expect(vpcLink.inputs.subnetIds).toEqual(["subnet-private-1", "subnet-private-2", "subnet-private-3"]);
    });

    test("the NLB is internal, at a fixed address in each private subnet, behind its own security group; its listener forwards to the target group", () => {
      const nlb = get("aws:lb/loadBalancer:LoadBalancer", "edge-nlb");
      expect(nlb.inputs).toMatchObject({ internal: true, loadBalancerType: "network", enableCrossZoneLoadBalancing: true });
      // The first address of the reserved last /28 of each private subnet (10.0.0.0/19, 10.0.32.0/19, 10.0.64.0/19).
      expect(nlb.inputs.subnetMappings).toEqual([
        { subnetId: "subnet-private-1", privateIpv4Address: "10.0.31.240" },
        { subnetId: "subnet-private-2", privateIpv4Address: "10.0.63.240" },
        { subnetId: "subnet-private-3", privateIpv4Address: "10.0.95.240" },
      ]);
      expect(nlb.inputs).not.toHaveProperty("subnets");
      // Pods see the NLB's addresses as the source, which is what they admit.
      expect(get("aws:lb/targetGroup:TargetGroup", "edge-tg").inputs.preserveClientIp).toBe("false");
      expect(nlb.inputs.securityGroups).toEqual([get("aws:ec2/securityGroup:SecurityGroup", "edge-nlb-sg").state.id]);
      const listener = get("aws:lb/listener:Listener", "edge-listener").inputs;
      expect(listener).toMatchObject({ loadBalancerArn: nlb.state.arn, port: 80, protocol: "TCP" });
      expect(listener.defaultActions).toEqual([{ type: "forward", targetGroupArn: get("aws:lb/targetGroup:TargetGroup", "edge-tg").state.arn }]);
    });

    test("security groups chain VPC link → NLB → pods, each hop on its one port and by group, never by CIDR", () => {
      const sg = (name: string) => get("aws:ec2/securityGroup:SecurityGroup", name).state.id;
      const nodeSg = get("eks:index:Cluster", "cluster-eks").state.nodeSecurityGroupId;
      const rule = (type: string, name: string) => get(type, name).inputs;
      expect(rule("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "edge-vpc-link-to-nlb")).toMatchObject({ securityGroupId: sg("edge-vpc-link-sg"), referencedSecurityGroupId: sg("edge-nlb-sg"), fromPort: 80, toPort: 80 });
      expect(rule("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "edge-nlb-from-vpc-link")).toMatchObject({ securityGroupId: sg("edge-nlb-sg"), referencedSecurityGroupId: sg("edge-vpc-link-sg"), fromPort: 80, toPort: 80 });
      expect(rule("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "edge-nlb-to-pods")).toMatchObject({ securityGroupId: sg("edge-nlb-sg"), referencedSecurityGroupId: nodeSg, fromPort: 8080, toPort: 8080 });
      // The last hop's ingress rule on the nodes' group is the TargetGroupBinding's `networking`, reconciled by the controller.
      const binding = get(CR("elbv2.k8s.aws/v1beta1:TargetGroupBinding"), "ingest-target-group-binding").inputs.spec;
      expect(binding.networking).toEqual({ ingress: [{ from: [{ securityGroup: { groupID: sg("edge-nlb-sg") } }], ports: [{ protocol: "TCP", port: 8080 }] }] });
    });
  });

  describe("target group ↔ TargetGroupBinding ↔ ingest", () => {
    test("the binding names the program's target group and ingest's Service port; the group targets pod IPs on the container port", () => {
      const tg = get("aws:lb/targetGroup:TargetGroup", "edge-tg");
      const binding = get(CR("elbv2.k8s.aws/v1beta1:TargetGroupBinding"), "ingest-target-group-binding").inputs;
      const svc = get("kubernetes:core/v1:Service", "ingest-service").inputs;
      const deployment = get("kubernetes:argoproj.io/v1alpha1:Rollout", "ingest-rollout").inputs;
      expect(binding.spec).toMatchObject({ targetGroupARN: tg.state.arn, targetType: "ip", ipAddressType: "ipv4", serviceRef: { name: svc.metadata.name, port: 8080 } });
      expect(binding.metadata.namespace).toBe(svc.metadata.namespace);
      expect(svc.spec.ports).toEqual([{ name: "http", port: 8080, targetPort: "http", protocol: "TCP", appProtocol: "http" }]);
      expect(svc.spec.selector).toEqual(deployment.spec.selector.matchLabels);
      expect(deployment.spec.template.spec.containers[0].ports[0].containerPort).toBe(tg.inputs.port);
      expect(tg.inputs).toMatchObject({ targetType: "ip", protocol: "TCP", connectionTermination: true });
      expect(tg.inputs.healthCheck).toMatchObject({ protocol: "HTTP", path: "/readyz", port: "traffic-port", matcher: "200" });
      // The controller's IAM policy keys on this tag.
      expect(tg.inputs.tags["elbv2.k8s.aws/cluster"]).toBe(`eventstack-${stack}`);
    });

    test("the binding waits for the controller's CRDs and webhook; no Service of type LoadBalancer exists", () => {
      const binding = get(CR("elbv2.k8s.aws/v1beta1:TargetGroupBinding"), "ingest-target-group-binding");
      expect(binding.dependencies).toContainEqual(urnOf(get("kubernetes:yaml/v2:ConfigFile", "load-balancer-controller-crds")));
      expect(binding.dependencies).toContainEqual(urnOf(get("kubernetes:helm.sh/v3:Release", "load-balancer-controller-release")));
      for (const svc of mocks.ofType("kubernetes:core/v1:Service")) expect([svc.name, svc.inputs.spec.type]).toEqual([svc.name, "ClusterIP"]);
      expect(mocks.ofType("aws:lb/loadBalancer:LoadBalancer")).toHaveLength(1);
    });

    test("the AWS Load Balancer Controller: pinned chart, CRDs as Pulumi objects from the same release, Pod Identity, no Service webhook", () => {
      const release = get("kubernetes:helm.sh/v3:Release", "load-balancer-controller-release").inputs;
      const pinned = VERSIONS.charts.awsLoadBalancerController;
      expect([release.chart, release.version, release.repositoryOpts.repo, release.namespace, release.skipCrds]).toEqual([pinned.chart, pinned.version, pinned.repo, "kube-system", true]);
      expect(get("kubernetes:yaml/v2:ConfigFile", "load-balancer-controller-crds").inputs.file).toBe(
        `https://raw.githubusercontent.com/kubernetes-sigs/aws-load-balancer-controller/${pinned.appVersion}/helm/aws-load-balancer-controller/crds/crds.yaml`,
      );
      expect(release.values).toMatchObject({
        clusterName: `eventstack-${stack}`,
        region: TEST_REGION,
        vpcId: get("awsx:ec2:Vpc", "network-vpc").state.vpcId,
        enableServiceMutatorWebhook: false,
        serviceAccount: { create: true, name: "aws-load-balancer-controller" },
      });
      const role = get("aws:iam/role:Role", "load-balancer-controller-role");
      expect(get("aws:eks/podIdentityAssociation:PodIdentityAssociation", "load-balancer-controller-role").inputs).toEqual({
        clusterName: `eventstack-${stack}`,
        namespace: "kube-system",
        serviceAccount: "aws-load-balancer-controller",
        roleArn: role.state.arn,
      });
    });
  });

  describe("the HTTP API", () => {
    test("one route, POST /v1/events, to the integration, with IAM (SigV4) authorization when no JWT issuer is configured", () => {
      const routes = mocks.ofType("aws:apigatewayv2/route:Route");
      expect(routes.map((r) => r.inputs.routeKey)).toEqual(["POST /v1/events"]);
      expect(routes[0]!.inputs).toMatchObject({ target: `integrations/${get("aws:apigatewayv2/integration:Integration", "edge-integration").state.id}`, authorizationType: "AWS_IAM" });
      expect(mocks.ofType("aws:apigatewayv2/authorizer:Authorizer")).toEqual([]);
      expect(get("aws:apigatewayv2/api:Api", "edge-api").inputs).not.toHaveProperty("corsConfiguration");
    });

    test("the stage throttles at the stack's rate and burst and writes a JSON access line per request, keyed by the request id", () => {
      const stage = get("aws:apigatewayv2/stage:Stage", "edge-stage").inputs;
      const logs = get("aws:cloudwatch/logGroup:LogGroup", "edge-access-logs");
      expect(stage.defaultRouteSettings).toEqual({
        throttlingRateLimit: Number(config["eventstack:api.throttleRateLimit"]),
        throttlingBurstLimit: Number(config["eventstack:api.throttleBurstLimit"]),
        detailedMetricsEnabled: true,
      });
      expect(stage.accessLogSettings).toEqual({ destinationArn: logs.state.arn, format: ACCESS_LOG_FORMAT });
      const format = JSON.parse(stage.accessLogSettings.format);
      expect(format).toMatchObject({ requestId: "$context.requestId", status: "$context.status", integrationStatus: "$context.integration.status", authorizerError: "$context.authorizer.error" });
      expect(logs.inputs.retentionInDays).toBe(Number(config["eventstack:logRetentionDays"]));
      expect(outputs.apiUrl).toBe(get("aws:apigatewayv2/api:Api", "edge-api").state.apiEndpoint);
    });

    test("the stage stays within the account's declared throttle quota, and no quota raise is requested by default", () => {
      const stage = get("aws:apigatewayv2/stage:Stage", "edge-stage").inputs.defaultRouteSettings;
      expect(stage.throttlingRateLimit).toBeLessThanOrEqual(Number(config["eventstack:api.accountRateLimit"]));
      expect(stage.throttlingBurstLimit).toBeLessThanOrEqual(Number(config["eventstack:api.accountBurstLimit"]));
      // AWS's default quota (developerguide/limits.html), which both stacks declare unless told otherwise.
      expect([config["eventstack:api.accountRateLimit"], config["eventstack:api.accountBurstLimit"]]).toEqual(["10000", "5000"]);
      expect(mocks.ofType("aws:servicequotas/serviceQuota:ServiceQuota")).toEqual([]);
    });

    test("payload limit: ingest's own limit, which API Gateway's 10 MB cap never undercuts", () => {
      const env = Object.fromEntries(get("kubernetes:argoproj.io/v1alpha1:Rollout", "ingest-rollout").inputs.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
      expect(env.MAX_BODY_BYTES).toBe(config["eventstack:ingest.maxBodyBytes"]);
      expect(Number(env.MAX_BODY_BYTES)).toBeLessThanOrEqual(HTTP_API_MAX_PAYLOAD_BYTES);
    });
  });

  describe("images", () => {
    test("one ECR repository per service: immutable tags, scan on push, KMS, a lifecycle policy", () => {
      for (const service of ["ingest", "processor"]) {
        const repo = get("aws:ecr/repository:Repository", `images-${service}`).inputs;
        expect(repo).toMatchObject({ name: `eventstack-${stack}/${service}`, imageTagMutability: "IMMUTABLE", imageScanningConfiguration: { scanOnPush: true }, encryptionConfigurations: [{ encryptionType: "KMS" }] });
        const lifecycle = JSON.parse(get("aws:ecr/lifecyclePolicy:LifecyclePolicy", `images-${service}`).inputs.policy);
        expect(lifecycle.rules.map((r: any) => [r.selection.tagStatus, r.selection.countType, r.selection.countNumber])).toEqual([
          ["untagged", "sinceImagePushed", 7],
          ["any", "imageCountMoreThan", 30],
        ]);
      }
    });

    test("built in pulumi up (images.build), each image is for the architectures the NodePool may launch and pushed with its content tag", async () => {
      const built = (await runProgram(stack, BUILD_IMAGES)).mocks;
      const architectures: string[] = JSON.parse(config["eventstack:karpenter.architectures"]!);
      for (const service of ["ingest", "processor"]) {
        const image = built.get("docker-build:index:Image", `images-${service}`).inputs;
        expect(image.platforms).toEqual(architectures.map((a) => `linux/${a}`));
        expect(image).toMatchObject({ push: true, buildOnPreview: false, dockerfile: { location: expect.stringMatching(new RegExp(`/apps/${service}/Dockerfile$`)) } });
        const repositoryUrl: string = built.get("aws:ecr/repository:Repository", `images-${service}`).state.repositoryUrl;
        expect(image.tags).toHaveLength(1);
        expect(image.tags[0].startsWith(`${repositoryUrl}:`)).toBe(true);
        // The tag covers the build's inputs as built here: these platforms, no build arguments (test/images.test.ts).
        expect(image.buildArgs ?? {}).toEqual({});
        expect(image.tags[0].slice(repositoryUrl.length + 1)).toBe(imageTag({ contextPath: ROOT, dockerfile: image.dockerfile.location, platforms: image.platforms, buildArgs: {} }));
      }
    });
  });
});

describe("with a custom domain, a JWT issuer and CORS origins", () => {
  let mocks: RecordingMocks;
  let outputs: Record<string, any>;
  beforeAll(async () => {
    ({ mocks, outputs } = await runProgram("prod", {
      "eventstack:api.domainName": "events.example.com",
      "eventstack:api.hostedZoneId": "Z0123456789ABC",
      "eventstack:api.jwtIssuer": "https://auth.example.com/",
      "eventstack:api.jwtAudiences": ["eventstack"],
      "eventstack:api.corsOrigins": ["https://app.example.com"],
    }));
  });
  const get = (type: string, name: string) => mocks.get(type, name);

  test("an ACM certificate validated in the zone, a regional TLS 1.2 domain mapped to the stage, an alias record, and no execute-api door", () => {
    const cert = get("aws:acm/certificate:Certificate", "edge-certificate");
    expect(cert.inputs).toMatchObject({ domainName: "events.example.com", validationMethod: "DNS" });
    expect(get("aws:route53/record:Record", "edge-certificate-validation").inputs.zoneId).toBe("Z0123456789ABC");
    expect(get("aws:acm/certificateValidation:CertificateValidation", "edge-certificate").inputs.certificateArn).toBe(cert.state.arn);
    const domain = get("aws:apigatewayv2/domainName:DomainName", "edge-domain");
    expect(domain.inputs.domainNameConfiguration).toMatchObject({ endpointType: "REGIONAL", securityPolicy: "TLS_1_2" });
    expect(get("aws:apigatewayv2/apiMapping:ApiMapping", "edge-mapping").inputs).toMatchObject({ apiId: get("aws:apigatewayv2/api:Api", "edge-api").state.id, domainName: domain.state.id, stage: "$default" });
    expect(get("aws:route53/record:Record", "edge-alias").inputs).toMatchObject({ zoneId: "Z0123456789ABC", name: "events.example.com", type: "A" });
    expect(get("aws:apigatewayv2/api:Api", "edge-api").inputs.disableExecuteApiEndpoint).toBe(true);
    expect(outputs.apiUrl).toBe("https://events.example.com");
  });

  test("a JWT authorizer for the issuer and audience on the Authorization header guards every route", () => {
    const authorizer = get("aws:apigatewayv2/authorizer:Authorizer", "edge-jwt");
    expect(authorizer.inputs).toMatchObject({
      authorizerType: "JWT",
      identitySources: ["$request.header.Authorization"],
      jwtConfiguration: { issuer: "https://auth.example.com/", audiences: ["eventstack"] },
    });
    for (const route of mocks.ofType("aws:apigatewayv2/route:Route")) expect(route.inputs).toMatchObject({ authorizationType: "JWT", authorizerId: authorizer.state.id });
  });

  test("CORS admits the configured origins only, for POST and the CloudEvents headers, without credentials", () => {
    expect(get("aws:apigatewayv2/api:Api", "edge-api").inputs.corsConfiguration).toEqual({
      allowOrigins: ["https://app.example.com"],
      allowMethods: [...HTTP_API_DEFAULTS.corsAllowMethods],
      allowHeaders: [...HTTP_API_DEFAULTS.corsAllowHeaders],
      exposeHeaders: [...HTTP_API_DEFAULTS.corsExposeHeaders],
      maxAge: 600,
      allowCredentials: false,
    });
    expect(HTTP_API_DEFAULTS.corsAllowHeaders).toEqual(expect.arrayContaining(["ce-id", "ce-source", "ce-specversion", "ce-type", "authorization"]));
  });
});

describe("the account's API Gateway throttle quota", () => {
  test("api.requestRateQuota asks Service Quotas for the throttle quota (apigateway L-8A5B8E43) while the stage stays within the granted one", async () => {
    const { mocks } = await runProgram("prod", { "eventstack:api.requestRateQuota": 20000 });
    expect(mocks.get("aws:servicequotas/serviceQuota:ServiceQuota", "edge-throttle-quota").inputs).toEqual({ serviceCode: "apigateway", quotaCode: "L-8A5B8E43", value: 20000 });
    expect(mocks.get("aws:apigatewayv2/stage:Stage", "edge-stage").inputs.defaultRouteSettings).toMatchObject({ throttlingRateLimit: 8000, throttlingBurstLimit: 4000 });
  });

  const base = { jwtIssuer: "", jwtAudiences: [], domainName: "", hostedZoneId: "", routes: ["POST /v1/events"], accountRateLimit: 10000, accountBurstLimit: 5000 };
  test.each([
    [
      { throttleRateLimit: 20000, throttleBurstLimit: 5000 },
      "HttpApi: throttleRateLimit (20000) must be <= accountRateLimit (10000), the account's throttle quota in the region; request a raise with requestRateQuota and raise accountRateLimit once AWS grants it",
    ],
    [
      { throttleRateLimit: 10000, throttleBurstLimit: 10000 },
      "HttpApi: throttleBurstLimit (10000) must be <= accountBurstLimit (5000), the account's burst quota in the region, which AWS sets from the rate quota",
    ],
    [
      { throttleRateLimit: 10000, throttleBurstLimit: 5000, requestRateQuota: 8000 },
      "HttpApi: requestRateQuota (8000) must be 0 or above accountRateLimit (10000): Service Quotas only raises a quota",
    ],
  ])("the component refuses %j", (limits, message) => {
    expect(() => checkHttpApiArgs({ ...base, ...limits })).toThrow(new Error(message));
  });

  test("limits equal to the quota are accepted", () => {
    expect(() => checkHttpApiArgs({ ...base, throttleRateLimit: 10000, throttleBurstLimit: 5000, requestRateQuota: 0 })).not.toThrow();
  });
});
