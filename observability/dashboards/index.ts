// Placeholder: the observability dashboards replace this module. The interface is what Grafana provisioning
// (components/observability/grafana.ts) reads: each dashboard's uid, title and JSON model, with panels on the
// Prometheus datasource of uid `prometheus`.
export interface Dashboard {
  uid: string;
  title: string;
  json: Record<string, unknown>;
}

export function dashboards(): Dashboard[] {
  return [
    {
      uid: "eventstack-overview",
      title: "eventstack overview",
      json: {
        uid: "eventstack-overview",
        title: "eventstack overview",
        schemaVersion: 39,
        panels: [
          {
            id: 1,
            type: "timeseries",
            title: "ingest requests per second",
            datasource: { type: "prometheus", uid: "prometheus" },
            targets: [{ refId: "A", expr: 'sum(rate(http_requests_total{job="ingest"}[5m]))' }],
            gridPos: { x: 0, y: 0, w: 12, h: 8 },
          },
        ],
      },
    },
  ];
}
