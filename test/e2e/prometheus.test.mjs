// The local Prometheus's set-up (scripts/prometheus.mjs) and `npm run status`'s arguments (scripts/status.mjs), without
// a pipeline: finding the binary, what happens without one, the configuration it is given, the port it takes.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { MISSING_PROMETHEUS, RULES_GLOB, choosePort, findPrometheus, prometheusConfig, startPrometheus } from "../../scripts/prometheus.mjs";
import { statusArgs } from "../../scripts/status.mjs";

test("the binary: PROMETHEUS_BIN, else prometheus on PATH, else none", () => {
  assert.equal(findPrometheus({ PATH: "/nonexistent:/also/missing" }), undefined);
  assert.equal(findPrometheus({ PATH: `/nonexistent${path.delimiter}/usr/bin` }), "/usr/bin/prometheus");
  assert.equal(findPrometheus({ PATH: "/nonexistent", PROMETHEUS_BIN: "/usr/bin/prometheus" }), "/usr/bin/prometheus");
  assert.throws(() => findPrometheus({ PROMETHEUS_BIN: "/no/such/prometheus" }), { message: 'PROMETHEUS_BIN is "/no/such/prometheus", which does not exist' });
});

test("without a binary, starting Prometheus fails with the message npm run local prints, and starts nothing", async () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), "eventstack-prom-"));
  try {
    await assert.rejects(startPrometheus({ stateDir, host: "127.0.0.1", ingestPort: 1, processorPort: 2, env: { PATH: "/nonexistent" } }), { message: MISSING_PROMETHEUS });
    assert.match(MISSING_PROMETHEUS, /^no `prometheus` binary on PATH \(Debian: apt-get install -y prometheus, .*\); the pipeline runs without/);
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test("the configuration scrapes both services and loads the repository's rule files", () => {
  const config = prometheusConfig({ host: "127.0.0.1", ingestPort: 8080, processorPort: 8081 });
  assert.match(config, /^ {2}scrape_interval: 2s$/m);
  assert.match(config, /^ {2}evaluation_interval: 2s$/m);
  assert.ok(config.includes(`  - ${JSON.stringify(RULES_GLOB)}\n`));
  assert.ok(RULES_GLOB.endsWith(path.join("observability", "rules", "*.rules.yaml")));
  assert.ok(config.includes('  - job_name: ingest\n    static_configs:\n      - targets: ["127.0.0.1:8080"]\n'));
  assert.ok(config.includes('  - job_name: processor\n    static_configs:\n      - targets: ["127.0.0.1:8081"]\n'));
});

test("the port: PROMETHEUS_PORT must be valid and free; unset, 9090 or another free port", async () => {
  await assert.rejects(choosePort("127.0.0.1", { PROMETHEUS_PORT: "99999" }), { message: 'PROMETHEUS_PORT must be an integer from 1 to 65535, got "99999"' });
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const taken = server.address().port;
  try {
    await assert.rejects(choosePort("127.0.0.1", { PROMETHEUS_PORT: String(taken) }), { message: `PROMETHEUS_PORT ${taken} is already in use on 127.0.0.1; set PROMETHEUS_PORT to a free port` });
    const port = await choosePort("127.0.0.1", {});
    assert.ok(Number.isInteger(port) && port !== taken);
  } finally {
    server.close();
  }
});

test("npm run status: bad arguments are named", () => {
  assert.throws(() => statusArgs(["--window", "soon", "--prometheus", "http://x"]), { message: '--window must be a PromQL duration such as 30s, 1m or 5m, got "soon"' });
  assert.throws(() => statusArgs(["--prometheus", "ftp://x"]), { message: '--prometheus must be an http(s) URL, got "ftp://x"' });
  assert.throws(() => statusArgs(["--prometheus"]), { message: "--prometheus needs a value" });
  assert.throws(() => statusArgs(["--verbose"]), { message: 'unknown argument "--verbose"; usage: npm run status [-- --prometheus <url>] [--window <duration>]' });
  assert.deepEqual(statusArgs(["--prometheus=https://aps.example/workspaces/ws-1/", "--window", "5m"]), { prometheus: "https://aps.example/workspaces/ws-1", window: "5m" });
});
