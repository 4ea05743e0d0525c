#!/usr/bin/env node
// `npm run docs:dashboard-picture`: draws the pipeline dashboard (observability/dashboards, "eventstack pipeline") as
// an SVG from its own panel queries, run as query_range against a Prometheus — by default the one of the running local
// pipeline (`npm run local`, then `npm run demo` a few times for something to see). No browser or Grafana is
// involved: each panel is its title, its series as lines on a shared time axis, the largest value and a legend.
// docs/observability.md shows the committed picture, docs/pipeline-dashboard.svg.
//
//   --prometheus <url>   the Prometheus to ask (default: the local pipeline's, found by INGEST_PORT)
//   --minutes <n>        how far back from now (default 10)
//   --out <file>         where to write (default docs/pipeline-dashboard.svg)
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { LocalError, root } from "./local.mjs";
import { statusArgs } from "./status.mjs";

const require = createRequire(import.meta.url);

const LAYOUT = { width: 1200, panelHeight: 250, gap: 16, rowTitle: 34, margin: 24, plotTop: 34, plotBottom: 78, plotLeft: 64, plotRight: 16 };
const COLORS = ["#3274d9", "#e0752d", "#56a64b", "#d44a3a", "#a352cc", "#e5ac0e", "#1f9f9f", "#8f8f8f"];

function args(argv) {
  const rest = [];
  const out = { minutes: 10, out: path.join(root, "docs", "pipeline-dashboard.svg") };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--minutes") {
      out.minutes = Number(argv[++i]);
      if (!Number.isInteger(out.minutes) || out.minutes < 1 || out.minutes > 1440) throw new LocalError(`--minutes must be an integer from 1 to 1440, got "${argv[i]}"`);
    } else if (argv[i] === "--out") out.out = path.resolve(argv[++i] ?? "");
    else rest.push(argv[i]);
  }
  return { ...out, prometheus: statusArgs(rest).prometheus };
}

/** The pipeline dashboard's rows and panels, from the dashboards module itself (TypeScript, loaded on the fly). */
function pipelinePanels() {
  require("./ts-register.cjs");
  const { dashboards, concreteQuery } = require("../observability/dashboards/index.ts");
  const board = dashboards().find((d) => d.uid === "eventstack-pipeline");
  const rows = [];
  for (const p of board.json.panels) {
    if (p.type === "row") rows.push({ title: p.title, panels: [] });
    else rows.at(-1).panels.push({ title: p.title, unit: p.fieldConfig?.defaults?.unit ?? "short", targets: p.targets.map((t) => ({ expr: concreteQuery(t.expr, "1m"), legend: t.legendFormat })) });
  }
  return rows;
}

async function queryRange(base, expr, start, end, step) {
  const res = await fetch(`${base}/api/v1/query_range?${new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(step) })}`);
  const body = await res.json().catch(() => ({}));
  if (body.status !== "success") throw new LocalError(`query_range ${expr} at ${base}: ${res.status} ${body.error ?? ""}`);
  return body.data.result;
}

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const legendOf = (format, metric) => format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k) => metric[k] ?? "");

function formatValue(v, unit) {
  if (!Number.isFinite(v)) return "n/a";
  if (unit === "s") return v < 1 ? `${(v * 1000).toPrecision(3)} ms` : `${v.toPrecision(3)} s`;
  if (unit === "percentunit") return `${(v * 100).toPrecision(3)} %`;
  const suffix = unit === "reqps" ? "/s" : "";
  return `${Math.abs(v) >= 1000 ? `${(v / 1000).toPrecision(3)}k` : Number(v.toPrecision(3))}${suffix}`;
}

function drawPanel(panel, series, x, y, w, h, range) {
  const { plotTop, plotBottom, plotLeft, plotRight } = LAYOUT;
  const px0 = x + plotLeft;
  const px1 = x + w - plotRight;
  const py0 = y + plotTop;
  const py1 = y + h - plotBottom;
  const values = series.flatMap((s) => s.points.map((p) => p[1]).filter(Number.isFinite));
  const max = values.length ? Math.max(...values) : 0;
  const top = max > 0 ? max * 1.1 : 1;
  const sx = (t) => px0 + ((t - range.start) / (range.end - range.start)) * (px1 - px0);
  const sy = (v) => py1 - (v / top) * (py1 - py0);
  const out = [
    `<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="4" fill="#181b1f" stroke="#2c3235"/>`,
    `<text x="${x + 12}" y="${y + 22}" class="title">${esc(panel.title)}</text>`,
    `<line x1="${px0}" y1="${py1}" x2="${px1}" y2="${py1}" class="axis"/>`,
    `<line x1="${px0}" y1="${py0}" x2="${px1}" y2="${py0}" class="grid"/>`,
    `<text x="${px0 - 6}" y="${py0 + 4}" class="tick" text-anchor="end">${esc(formatValue(top, panel.unit))}</text>`,
    `<text x="${px0 - 6}" y="${py1 + 4}" class="tick" text-anchor="end">0</text>`,
    `<text x="${px0}" y="${py1 + 16}" class="tick">${esc(range.startLabel)}</text>`,
    `<text x="${px1}" y="${py1 + 16}" class="tick" text-anchor="end">${esc(range.endLabel)}</text>`,
  ];
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    // A gap (no sample, NaN) ends a line; each stretch of values is its own polyline.
    let run = [];
    const flush = () => {
      if (run.length === 1) run.push([run[0][0] + 0.5, run[0][1]]);
      if (run.length > 1) out.push(`<polyline points="${run.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" ")}" stroke="${color}" class="line"/>`);
      run = [];
    };
    for (const [t, v] of s.points) {
      if (Number.isFinite(v)) run.push([sx(t), sy(v)]);
      else flush();
    }
    flush();
  });
  const legend = series.slice(0, 6);
  legend.forEach((s, i) => {
    const lx = x + 12 + (i % 2) * ((w - 24) / 2);
    const ly = y + h - 44 + Math.floor(i / 2) * 15;
    const last = s.points.filter((p) => Number.isFinite(p[1])).at(-1)?.[1];
    out.push(`<rect x="${lx}" y="${ly - 8}" width="10" height="3" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(`<text x="${lx + 14}" y="${ly}" class="legend">${esc(`${s.name.length > 36 ? `${s.name.slice(0, 35)}…` : s.name} ${formatValue(last, panel.unit)}`)}</text>`);
  });
  if (series.length > legend.length) out.push(`<text x="${x + w - 12}" y="${y + 22}" class="tick" text-anchor="end">${series.length - legend.length} more series</text>`);
  if (series.length === 0) out.push(`<text x="${(px0 + px1) / 2}" y="${(py0 + py1) / 2}" class="tick" text-anchor="middle">no data</text>`);
  return out.join("\n");
}

export async function drawPipeline({ prometheus, minutes, now = Date.now() / 1000 }) {
  const end = Math.floor(now);
  const start = end - minutes * 60;
  const step = Math.max(2, Math.round((minutes * 60) / 150));
  const hhmm = (t) => `${new Date(t * 1000).toISOString().slice(11, 16)} UTC`;
  const range = { start, end, startLabel: hhmm(start), endLabel: hhmm(end) };
  const rows = pipelinePanels();
  const { width, panelHeight, gap, rowTitle, margin } = LAYOUT;
  const panelWidth = (width - 2 * margin - gap) / 2;
  const parts = [];
  let y = margin + 30;
  for (const row of rows) {
    parts.push(`<text x="${margin}" y="${y + 22}" class="row">${esc(row.title)}</text>`);
    y += rowTitle;
    for (let i = 0; i < row.panels.length; i += 2) {
      for (const [j, panel] of row.panels.slice(i, i + 2).entries()) {
        const series = [];
        for (const target of panel.targets) {
          for (const r of await queryRange(prometheus, target.expr, start, end, step)) {
            series.push({ name: legendOf(target.legend, r.metric), points: r.values.map(([t, v]) => [t, Number(v)]) });
          }
        }
        parts.push(drawPanel(panel, series, margin + j * (panelWidth + gap), y, panelWidth, panelHeight, range));
      }
      y += panelHeight + gap;
    }
  }
  const height = y + margin;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Inter, Helvetica, Arial, sans-serif">`,
    "<style>.title{fill:#ccccdc;font-size:14px;font-weight:600}.row{fill:#ccccdc;font-size:17px;font-weight:600}.tick{fill:#8e8e9e;font-size:11px}.legend{fill:#ccccdc;font-size:11px}.axis{stroke:#464c54}.grid{stroke:#2c3235;stroke-dasharray:3 3}.line{fill:none;stroke-width:1.6}</style>",
    `<rect width="${width}" height="${height}" fill="#111217"/>`,
    `<text x="${margin}" y="${margin + 12}" class="row">eventstack pipeline — ${esc(range.startLabel)} to ${esc(range.endLabel)}, from ${esc(prometheus)}</text>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

async function main() {
  try {
    const a = args(process.argv.slice(2));
    writeFileSync(a.out, await drawPipeline(a));
    process.stdout.write(`[picture] wrote ${path.relative(process.cwd(), a.out) || a.out} (the last ${a.minutes} minutes from ${a.prometheus})\n`);
  } catch (err) {
    process.stderr.write(`[picture] ${err instanceof LocalError ? err.message : err.stack}\n`);
    process.exit(1);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
