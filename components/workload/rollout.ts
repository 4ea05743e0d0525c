// Progressive rollout of the two services with Argo Rollouts (docs/delivery.md, "Progressive rollout"): the Rollout
// that replaces a Deployment, each service's canary strategy, and the AnalysisTemplates that judge a canary on the
// services' own Prometheus metrics. Pure functions over Pulumi inputs, validated by the tests against the Rollouts
// CRDs at the pinned release (test/fixtures/crds).
//
// Why replica-weighted canaries and no traffic router: ingest's traffic arrives NLB → TargetGroupBinding → pod IPs,
// so the NLB spreads requests evenly over every registered pod, stable and canary alike; a canary holding k of n
// pods takes k/n of the requests. An ALB traffic router needs an ALB Ingress (there is none), and a Linkerd
// (Gateway API or SMI) split acts in the client's proxy, which the NLB's unmeshed traffic never passes through.
// The processor shares its topic's partitions with every pod of its consumer group, so its traffic cannot be split
// at all: one canary pod takes its share of partitions, and the analysis judges that pod alone.
import * as pulumi from "@pulumi/pulumi";

type Meta = { name: string; namespace: string; labels: Record<string, string> };

export const ROLLOUTS_API_VERSION = "argoproj.io/v1alpha1";

/** The argument every analysis receives: the canary ReplicaSet's pod-template hash, part of its pods' names. */
export const CANARY_HASH_ARG = "canary-hash";

/** The thresholds and pacing of both canaries: one place, read by the templates below and docs/delivery.md. */
export const CANARY_DEFAULTS = {
  /** Prometheus rate window: two scrape intervals of 30 s or more, so each query sees a rate. */
  rateWindow: "2m",
  /** How often each metric is measured, and failed measurements tolerated before the rollout aborts. */
  interval: "1m",
  failureLimit: 1,
  /** Prometheus unreachable this many times in a row aborts too: no analysis is no promotion. */
  consecutiveErrorLimit: 4,
  ingest: {
    /** Share of canary responses that are 5xx. */
    maxErrorRatio: 0.01,
    /** p99 of the canary's request duration (it includes Kafka's acknowledgement, docs/ingest.md). */
    maxP99Seconds: 1,
    /** Share of the canary's produce attempts that Kafka did not acknowledge. */
    maxProduceErrorRatio: 0.01,
    /** Canary weights (share of pods, so of NLB traffic) and the pause after each. */
    steps: [
      { setWeight: 20 },
      { pause: { duration: "5m" } },
      { setWeight: 50 },
      { pause: { duration: "5m" } },
    ],
  },
  processor: {
    /** Share of the canary's records sent to the dead-letter topic. */
    maxDeadLetterRatio: 0.01,
    /** Measurements of the processor's analysis step (count × interval: five minutes on its partitions). */
    count: 5,
  },
} as const;

/**
 * Where the canary analyses read their metrics. By default the stack's own Amazon Managed Prometheus workspace, the
 * one its collector writes to (index.ts, config delivery.analysisPrometheusUrl ""), resolved once by
 * analysisPrometheus in components/progressive-delivery.ts and given to the controller's role and to both templates.
 */
export interface AnalysisPrometheus {
  /** The Prometheus query endpoint, without /api/v1/query (Argo Rollouts appends it); a trailing "/" is trimmed. */
  url: pulumi.Input<string>;
  /**
   * Set when `url` is an AMP workspace: the controller signs the queries with SigV4 in `region` with its Pod
   * Identity role, which may query `workspaceArn` only. Default: none (plain HTTP queries, no controller role).
   */
  amp?: { region: string; workspaceArn: pulumi.Input<string> };
}

/** Whether a Prometheus URL is an Amazon Managed Prometheus workspace, which the controller must sign with SigV4. */
export function ampWorkspace(url: string): { region: string; workspaceId: string } | undefined {
  const m = /^https:\/\/aps-workspaces\.([a-z0-9-]+)\.amazonaws\.com\/workspaces\/(ws-[A-Za-z0-9-]+)\/?$/.exec(url);
  return m ? { region: m[1]!, workspaceId: m[2]! } : undefined;
}

/**
 * The Prometheus provider block of a metric: SigV4 (the controller's own Pod Identity credentials) for AMP. The
 * address loses its trailing "/" (AMP's prometheusEndpoint has one), as Argo Rollouts appends "/api/v1/query".
 */
export function prometheusProvider(source: AnalysisPrometheus, query: pulumi.Input<string>) {
  const trim = (u: string) => u.replace(/\/$/, "");
  return {
    prometheus: {
      address: typeof source.url === "string" ? trim(source.url) : pulumi.output(source.url).apply(trim),
      query,
      timeout: 30,
      ...(source.amp ? { authentication: { sigv4: { region: source.amp.region } } } : {}),
    },
  };
}

/**
 * A Rollout: the Deployment's selector, template and history, with a canary strategy. `replicas` is absent, as
 * on the Deployment: the HPA or KEDA owns it through the Rollout's scale subresource.
 */
export function rollout(meta: Meta, a: { selector: Record<string, string>; template: object; revisionHistoryLimit: number; canary: object }) {
  return {
    apiVersion: ROLLOUTS_API_VERSION,
    kind: "Rollout" as const,
    metadata: meta,
    spec: {
      selector: { matchLabels: a.selector },
      revisionHistoryLimit: a.revisionHistoryLimit,
      template: a.template,
      strategy: { canary: a.canary },
    },
  };
}

/** The arguments an AnalysisRun gets from the Rollout: the canary's pod-template hash. */
const canaryHashArgs = [{ name: CANARY_HASH_ARG, valueFrom: { podTemplateHashValue: "Latest" } }];

/** PromQL selector of the canary's pods: a Rollout's pods are named `<rollout>-<pod-template-hash>-<suffix>`. */
function canaryPods(namespace: pulumi.Input<string>, rolloutName: string) {
  return pulumi.interpolate`namespace="${namespace}",pod=~"${rolloutName}-{{args.${CANARY_HASH_ARG}}}-.*"`;
}

/**
 * Ingest: 20 % then 50 % of the pods (and so of the NLB's requests) for five minutes each, under a background
 * analysis from the first step; a failed measurement beyond failureLimit aborts, which scales the canary away and
 * leaves the stable pods serving. maxUnavailable 0: never fewer ready pods than wanted, as the Deployment had.
 */
export function ingestCanary(analysisTemplateName: string) {
  return {
    maxSurge: "25%",
    maxUnavailable: 0,
    analysis: { templates: [{ templateName: analysisTemplateName }], startingStep: 1, args: canaryHashArgs },
    steps: CANARY_DEFAULTS.ingest.steps,
  };
}

/**
 * The processor: one extra pod on the new version (weight 1 % with a surge of one gives exactly one canary pod
 * while every stable pod stays, for up to 100 replicas), judged for count × interval on its own partitions, then a
 * rolling replacement one pod at a time. Its analysis is a step, not a background run: the rest of the rollout
 * waits for it.
 */
export function processorCanary(analysisTemplateName: string) {
  return {
    maxSurge: 1,
    maxUnavailable: 0,
    steps: [{ setWeight: 1 }, { analysis: { templates: [{ templateName: analysisTemplateName }], args: canaryHashArgs } }],
  };
}

function analysisTemplate(meta: Meta, metrics: object[]) {
  return { apiVersion: ROLLOUTS_API_VERSION, kind: "AnalysisTemplate" as const, metadata: meta, spec: { args: [{ name: CANARY_HASH_ARG }], metrics } };
}

const measured = (name: string, successCondition: string, provider: object, count?: number) => ({
  name,
  interval: CANARY_DEFAULTS.interval,
  ...(count !== undefined ? { count } : {}),
  failureLimit: CANARY_DEFAULTS.failureLimit,
  consecutiveErrorLimit: CANARY_DEFAULTS.consecutiveErrorLimit,
  successCondition,
  provider,
});

/**
 * Ingest's canary analysis, on apps/ingest/src/metrics.ts: the 5xx share of `ingest_http_requests_total`, the p99
 * of `ingest_http_request_duration_seconds`, and `ingest_produce_errors_total` against
 * `ingest_events_produced_total`. Each ratio reads 0 when the canary had no requests (`or vector(0)` over a
 * denominator clamped away from 0), so a quiet stack promotes; a p99 without samples is NaN and passes the same way.
 */
export function ingestAnalysisTemplate(meta: Meta, a: { prometheus: AnalysisPrometheus; namespace: pulumi.Input<string>; rolloutName: string }) {
  const pods = canaryPods(a.namespace, a.rolloutName);
  const w = CANARY_DEFAULTS.rateWindow;
  const t = CANARY_DEFAULTS.ingest;
  const ratio = (num: pulumi.Input<string>, den: pulumi.Input<string>) =>
    pulumi.interpolate`(sum(rate(${num}[${w}])) or vector(0)) / clamp_min(sum(rate(${den}[${w}])) or vector(0), 1e-9)`;
  return analysisTemplate(meta, [
    measured("error-ratio", `result[0] <= ${t.maxErrorRatio}`, prometheusProvider(a.prometheus, ratio(pulumi.interpolate`ingest_http_requests_total{${pods},status=~"5.."}`, pulumi.interpolate`ingest_http_requests_total{${pods}}`))),
    measured(
      "p99-latency",
      `isNaN(result[0]) || result[0] <= ${t.maxP99Seconds}`,
      prometheusProvider(a.prometheus, pulumi.interpolate`histogram_quantile(0.99, sum by (le) (rate(ingest_http_request_duration_seconds_bucket{${pods}}[${w}])))`),
    ),
    measured(
      "produce-error-ratio",
      `result[0] <= ${t.maxProduceErrorRatio}`,
      prometheusProvider(
        a.prometheus,
        pulumi.interpolate`(sum(rate(ingest_produce_errors_total{${pods}}[${w}])) or vector(0)) / clamp_min((sum(rate(ingest_events_produced_total{${pods}}[${w}])) or vector(0)) + (sum(rate(ingest_produce_errors_total{${pods}}[${w}])) or vector(0)), 1e-9)`,
      ),
    ),
  ]);
}

/**
 * The processor's canary analysis, on apps/processor/src/metrics.ts: the share of the canary's records dead-lettered
 * (`processor_dead_letters_total` against `processor_events_total`), and the lag of the partitions the canary owns
 * (`processor_consumer_lag`, which each pod reports for its assigned partitions only) against the lag per replica
 * KEDA scales at: a canary that stops committing offsets lets its partitions' lag grow past it.
 */
export function processorAnalysisTemplate(meta: Meta, a: { prometheus: AnalysisPrometheus; namespace: pulumi.Input<string>; rolloutName: string; lagThreshold: number }) {
  const pods = canaryPods(a.namespace, a.rolloutName);
  const w = CANARY_DEFAULTS.rateWindow;
  const t = CANARY_DEFAULTS.processor;
  return analysisTemplate(meta, [
    measured(
      "dead-letter-ratio",
      `result[0] <= ${t.maxDeadLetterRatio}`,
      prometheusProvider(
        a.prometheus,
        pulumi.interpolate`(sum(rate(processor_dead_letters_total{${pods}}[${w}])) or vector(0)) / clamp_min(sum(rate(processor_events_total{${pods}}[${w}])) or vector(0), 1e-9)`,
      ),
      t.count,
    ),
    measured("consumer-lag", `result[0] <= ${a.lagThreshold}`, prometheusProvider(a.prometheus, pulumi.interpolate`max(processor_consumer_lag{${pods}}) or vector(0)`), t.count),
  ]);
}
