// One service of the local pipeline as a supervised child process, and the log format `npm run local` shows.
// Used by scripts/local.mjs and, through it, by the end-to-end tests (test/e2e/), which kill and restart
// services through the same handle.
import { spawn } from "node:child_process";
import readline from "node:readline";

const SUPERVISOR_DEFAULTS = {
  restartDelayMs: 1_000,
  // Output lines kept for error reports and for the tests' assertions on what a service logged.
  keepLines: 2_000,
  // Above both services' SHUTDOWN_TIMEOUT_MS default (25 s), so their own bound fires first.
  stopTimeoutMs: 30_000,
  // A service that crashes this many times within crashWindowMs is in a crash loop, which restarting only repeats.
  // One crash a minute or less (a lost broker, a restarted database) is restarted for as long as the run lasts.
  maxCrashes: 5,
  crashWindowMs: 60_000,
};

/**
 * The restart policy of one service: `crashed()` records a crash and says whether to restart, which is no once
 * `maxCrashes` crashes fall within the last `windowMs` (this one included). Older crashes no longer count.
 */
export class CrashWindow {
  #times = [];

  constructor({ maxCrashes = SUPERVISOR_DEFAULTS.maxCrashes, windowMs = SUPERVISOR_DEFAULTS.crashWindowMs, now = Date.now } = {}) {
    if (!Number.isInteger(maxCrashes) || maxCrashes < 1) throw new RangeError(`maxCrashes must be an integer of at least 1, got ${maxCrashes}`);
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be a positive number of milliseconds, got ${windowMs}`);
    Object.assign(this, { maxCrashes, windowMs, now });
  }

  /** The crashes within the window as of the last one recorded. */
  get recent() {
    return this.#times.length;
  }

  /** Records a crash now; true when the service should be restarted, false when it is given up. */
  crashed() {
    const t = this.now();
    this.#times = this.#times.filter((at) => t - at < this.windowMs);
    this.#times.push(t);
    return this.#times.length < this.maxCrashes;
  }
}

/** A pino JSON line as `HH:MM:SS.mmm LEVEL msg key=value ...`; anything else unchanged. */
export function formatLogLine(line) {
  let o;
  try {
    o = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof o !== "object" || o === null || typeof o.msg !== "string") return line;
  const { level, time, msg, service, pid, hostname, ...rest } = o;
  const at = typeof time === "string" ? time.slice(11, 23) : typeof time === "number" ? new Date(time).toISOString().slice(11, 23) : "";
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return `${at} ${String(level ?? "").toUpperCase().padEnd(5)} ${msg}${fields.length ? `  ${fields.join(" ")}` : ""}`;
}

/**
 * One service as a supervised child process: its output arrives line by line through `onLine`, the last
 * lines are kept for error reports, and when it exits without `stop()` the `restart` policy decides whether
 * a new process takes its place (after `restartDelayMs`). Children run in their own process group so that a
 * terminal's Ctrl-C reaches only the supervising script, which stops them in order.
 */
export class Service {
  #child;
  #stopping = false;
  #restartTimer;
  #waiters = [];

  /**
   * `script` runs on this Node with `nodeArgs` before it; a program that is not a Node script (Prometheus) gives
   * `command` (the executable, which `script` then only names) and its `args` instead.
   */
  constructor(name, script, { env, cwd, nodeArgs = [], command = process.execPath, args, onLine = () => {}, restart = () => false, restartDelayMs = SUPERVISOR_DEFAULTS.restartDelayMs, keepLines = SUPERVISOR_DEFAULTS.keepLines }) {
    Object.assign(this, { name, script, env, cwd, nodeArgs, command, args, onLine, restart, restartDelayMs, keepLines });
    this.lines = [];
    this.exits = [];
    this.starts = 0;
  }

  get pid() {
    return this.#child?.pid;
  }

  get running() {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  start() {
    this.starts += 1;
    const child = spawn(this.command, this.args ?? [...this.nodeArgs, this.script], { cwd: this.cwd, env: this.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    this.#child = child;
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
        this.lines.push(line);
        if (this.lines.length > this.keepLines) this.lines.splice(0, this.lines.length - this.keepLines);
        this.onLine(line, this);
      });
    }
    child.once("exit", (code, signal) => {
      const exit = { code, signal };
      this.exits.push(exit);
      for (const resolve of this.#waiters.splice(0)) resolve(exit);
      if (!this.#stopping && this.restart(exit, this)) this.#restartTimer = setTimeout(() => this.start(), this.restartDelayMs);
    });
    return this;
  }

  /** Resolves with the next exit of the current process (at once if it has already exited). */
  exited() {
    if (!this.running) return Promise.resolve(this.exits.at(-1));
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Sends a signal to the current process without stopping supervision (a crash the policy may restart). */
  kill(signal = "SIGKILL") {
    if (this.running) this.#child.kill(signal);
  }

  /** Graceful stop: SIGTERM, then SIGKILL after timeoutMs. No restart afterwards. Resolves with the exit. */
  async stop(timeoutMs = SUPERVISOR_DEFAULTS.stopTimeoutMs) {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    if (!this.running) return this.exits.at(-1);
    const exit = this.exited();
    this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), timeoutMs);
    try {
      return await exit;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Last resort for process exit handlers: synchronous, no waiting. */
  killNow() {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    this.kill("SIGKILL");
  }

  tail(n = 30) {
    return this.lines.slice(-n).join("\n");
  }
}
