/**
 * Start-up refusal and graceful shutdown, in real processes: the exit codes and the order of what happens.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const index = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/index.js")).href;

async function run(script: string, signal?: NodeJS.Signals): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", `import * as r from ${JSON.stringify(index)};\n${script}`], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
    if (signal && c.includes("ready")) child.kill(signal);
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

const LOG = `const log = { info: (o, m) => console.log(m, JSON.stringify(o)), error: (o, m) => console.log(m, JSON.stringify({ ...o, err: o.err?.message })) };`;

test("a ConfigError at start: the service's name and every problem on stderr, exit 78", async () => {
  const r = await run(`r.loadOrExit("svc", () => { throw new r.ConfigError("SVC_CONFIG", ["A must be x", "B must be y"]); });`);
  assert.deepEqual(r, { code: 78, stdout: "", stderr: "svc: invalid configuration:\n  - A must be x\n  - B must be y\n" });
});

test("SIGTERM: drain at once, stop after the delay, exit 0; a second signal starts nothing", async () => {
  const r = await run(
    `${LOG}
     r.handleShutdown({ log, timeoutMs: 5000, delayMs: 50, drain: () => console.log("drain"), stop: async () => { process.kill(process.pid, "SIGINT"); console.log("stop"); } });
     setInterval(() => {}, 1000); console.log("ready");`,
    "SIGTERM",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    'ready\nshutting down: not ready, finishing in-flight work {"signal":"SIGTERM","timeoutMs":5000,"delayMs":50}\ndrain\nstop\nshutdown complete {"exitCode":0}\n',
  );
});

test("a failing stop exits 1; a stop that outlasts the timeout exits 1; a fatal failure exits with its own code", async () => {
  const failing = await run(`${LOG} r.handleShutdown({ log, timeoutMs: 5000, stop: async () => { throw new Error("pool stuck"); } }); setInterval(() => {}, 1000); console.log("ready");`, "SIGTERM");
  assert.equal(failing.code, 1);
  assert.match(failing.stdout, /error during shutdown; exiting {"err":"pool stuck"}\n$/);
  const slow = await run(`${LOG} r.handleShutdown({ log, timeoutMs: 200, stop: () => new Promise(() => {}) }); setInterval(() => {}, 1000); console.log("ready");`, "SIGTERM");
  assert.equal(slow.code, 1);
  assert.match(slow.stdout, /shutdown did not finish in time; exiting {"timeoutMs":200}\n$/);
  const fatal = await run(`${LOG} const s = r.handleShutdown({ log, timeoutMs: 5000, stop: async () => {} }); setInterval(() => {}, 1000); void s.begin("consumer-failure", 1);`);
  assert.equal(fatal.code, 1);
  assert.match(fatal.stdout, /"signal":"consumer-failure".*\nshutdown complete {"exitCode":1}\n$/);
});
