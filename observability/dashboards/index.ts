// eventstack's Grafana dashboards, built as code with Grafana's foundation SDK (@grafana/grafana-foundation-sdk).
// The stack provisions dashboards() into Grafana (components/observability); test/observability-*.test.ts run every
// query of dashboardQueries(): the service-metric ones against a Prometheus scraping the real services, the platform
// ones (kube-state-metrics, Karpenter, MSK, CloudWatch) as promtool unit tests over series of their sources' names.
//
// Every panel reads the datasource variable `datasource`, whose default is the datasource of uid `prometheus`
// (DATASOURCE_UID): the stack's Grafana provisions its Prometheus datasource (Amazon Managed Service for
// Prometheus) under that uid. `$__rate_interval` is Grafana's own (at least four scrape intervals).
import { DashboardBuilder, DashboardCursorSync, DatasourceVariableBuilder, CustomVariableBuilder, RowBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import type { DataSourceRef } from "@grafana/grafana-foundation-sdk/dashboard";
import { LegendDisplayMode, LegendPlacement, VizLegendOptionsBuilder } from "@grafana/grafana-foundation-sdk/common";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatPanelBuilder } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesPanelBuilder } from "@grafana/grafana-foundation-sdk/timeseries";
import { PIPELINE, PLATFORM, DATA_SERVICES, type DashboardSpec, type PanelSpec } from "./panels";

export { PIPELINE, PLATFORM, DATA_SERVICES } from "./panels";
export type { DashboardSpec, PanelSpec, QuerySpec, MetricSource } from "./panels";

/** The uid of the Prometheus datasource the dashboards read by default (the stack provisions it under this uid). */
export const DATASOURCE_UID = "prometheus";

/** One dashboard as Grafana provisioning takes it. */
export interface Dashboard {
  uid: string;
  title: string;
  json: Record<string, unknown>;
}

/** One panel query, for the tests: which dashboard and panel it belongs to and where its metrics come from. */
export interface DashboardQuery {
  dashboard: string;
  panel: string;
  expr: string;
  legend: string;
  source: PanelSpec["source"];
}

/**
 * A panel query as Prometheus runs it outside Grafana: Grafana's `$__rate_interval` as `rateInterval`, and the
 * platform dashboard's `$namespace` as the default apps namespace.
 */
export function concreteQuery(expr: string, rateInterval = "5m"): string {
  return expr.replaceAll("$__rate_interval", rateInterval).replaceAll("$namespace", "eventstack");
}

const datasource: DataSourceRef = { type: "prometheus", uid: "${datasource}" };

function panel(p: PanelSpec) {
  const legend = new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom);
  const builder = p.kind === "stat" ? new StatPanelBuilder() : new TimeseriesPanelBuilder().fillOpacity(10).lineWidth(1).legend(legend);
  builder.title(p.title).description(p.description).datasource(datasource).unit(p.unit).height(p.height ?? 8).span(p.width ?? 12);
  if (p.min !== undefined) builder.min(p.min);
  if (p.max !== undefined) builder.max(p.max);
  p.queries.forEach((q, i) => {
    builder.withTarget(new DataqueryBuilder().expr(q.expr).legendFormat(q.legend).refId(String.fromCharCode(65 + i)).datasource(datasource));
  });
  return builder;
}

function build(spec: DashboardSpec): Dashboard {
  const board = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(["eventstack"])
    .editable()
    .refresh("30s")
    .time({ from: "now-3h", to: "now" })
    .tooltip(DashboardCursorSync.Crosshair)
    .withVariable(new DatasourceVariableBuilder("datasource").label("Prometheus").type("prometheus").current({ text: DATASOURCE_UID, value: DATASOURCE_UID }));
  if (spec.namespaceVariable) {
    board.withVariable(
      new CustomVariableBuilder("namespace")
        .label("Apps namespace")
        .description("The namespace the eventstack services run in (appsNamespace.name, default eventstack).")
        .values("eventstack")
        .current({ text: "eventstack", value: "eventstack" })
        .allowCustomValue(true),
    );
  }
  for (const row of spec.rows) {
    board.withRow(new RowBuilder(row.title));
    for (const p of row.panels) board.withPanel(panel(p));
  }
  return { uid: spec.uid, title: spec.title, json: board.build() as unknown as Record<string, unknown> };
}

/** The three dashboards: the pipeline, the platform under it, and the data services. */
export function dashboards(): Dashboard[] {
  return [PIPELINE, PLATFORM, DATA_SERVICES].map(build);
}

/** Every panel's PromQL with its dashboard and panel title, and whether its metrics are the services' own. */
export function dashboardQueries(): DashboardQuery[] {
  return [PIPELINE, PLATFORM, DATA_SERVICES].flatMap((d) =>
    d.rows.flatMap((r) => r.panels.flatMap((p) => p.queries.map((q) => ({ dashboard: d.title, panel: p.title, expr: q.expr, legend: q.legend, source: p.source })))),
  );
}
