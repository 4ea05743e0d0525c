/**
 * An open-loop load generator for the half-load latency runs: requests are due at evenly spaced moments
 * (`ratePerSec`), whatever the answers do, and each request's latency runs from the moment it was due to its answer.
 *
 * Why not autocannon's `overallRate`: autocannon 8.0.0 (lib/httpClient.js, read 2026-12-06) paces by resetting a
 * per-connection request count once a second, so each connection sends its whole second's quota back to back at the
 * start of the second and then waits. At "half load" the service then gets a full-speed burst for part of every
 * second and nothing for the rest, and the p99 measures the queue of that burst, not the service at half load.
 *
 * Why latency from the due moment: when the service falls behind, requests wait for a free connection; counting
 * from the moment they were sent would hide that wait (coordinated omission). Counting from the due moment charges
 * it to the service, as a client arriving at that moment would feel it.
 *
 * Why raw sockets: node:http's client costs enough CPU per request that, at a few thousand requests per second on
 * this two-CPU machine, its own garbage collection and event-loop delays showed up as tens of milliseconds of p99
 * against a server that does nothing. Like autocannon, this writes one prepared request per connection and reads
 * just enough of each answer (status line, Content-Length or chunks, body) to know it is complete. It handles exactly
 * the answers the servers under test give (HTTP/1.1, small bodies, keep-alive); anything else counts as an error.
 */
import net from "node:net";

export interface PacedLoadOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  ratePerSec: number;
  durationS: number;
  /** At most this many requests at once, one per kept-alive connection; beyond it requests wait (and their wait counts). */
  connections: number;
}

export interface PacedLoadResult {
  /** Latencies in ms of the 2xx answers, in the order the answers came. */
  latenciesMs: number[];
  ok: number;
  non2xx: number;
  errors: number;
  /** Seconds from the first due moment to the last answer. */
  durationS: number;
}

const HEADER_END = Buffer.from("\r\n\r\n");
const LAST_CHUNK = Buffer.from("\r\n0\r\n\r\n");

/** One kept-alive connection with at most one request outstanding; calls `done(status)` per answer (0: broken). */
class Connection {
  readonly #socket: net.Socket;
  #buffered: Buffer = Buffer.alloc(0);
  #pending: ((status: number) => void) | undefined;
  /** The socket failed or closed: it takes no more requests. */
  dead = false;

  constructor(host: string, port: number) {
    this.#socket = net.connect({ host, port, noDelay: true });
    this.#socket.on("data", (chunk: Buffer) => this.#read(chunk));
    const broken = () => {
      this.dead = true;
      this.#finish(0);
    };
    this.#socket.on("error", broken);
    this.#socket.on("close", broken);
  }

  get free(): boolean {
    return this.#pending === undefined && !this.dead;
  }

  send(request: Buffer, done: (status: number) => void): void {
    this.#pending = done;
    this.#socket.write(request);
  }

  close(): void {
    this.#socket.destroy();
  }

  #finish(status: number): void {
    const done = this.#pending;
    this.#pending = undefined;
    done?.(status);
  }

  #read(chunk: Buffer): void {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    for (;;) {
      const end = this.#buffered.indexOf(HEADER_END);
      if (end < 0) return;
      const head = this.#buffered.subarray(0, end).toString("latin1");
      const status = Number(head.slice(9, 12));
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      let total: number;
      if (length) {
        total = end + HEADER_END.length + Number(length[1]);
      } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        // The answers under test are a few bytes of JSON: the body ends at the first zero-length chunk.
        const last = this.#buffered.indexOf(LAST_CHUNK, end + 2);
        if (last < 0) return;
        total = last + LAST_CHUNK.length;
      } else {
        this.#finish(0);
        this.#socket.destroy();
        return;
      }
      if (this.#buffered.length < total) return;
      this.#buffered = this.#buffered.subarray(total);
      this.#finish(status);
    }
  }
}

/** Runs `ratePerSec × durationS` requests at evenly spaced due moments and waits for every answer. */
export async function pacedLoad(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const { url, body, headers, ratePerSec, durationS, connections } = options;
  const target = new URL(url);
  const payload = Buffer.from(body);
  const head = [`POST ${target.pathname} HTTP/1.1`, `host: ${target.host}`, `content-length: ${payload.length}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  const request = Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\n\r\n`), payload]);
  const pool = Array.from({ length: connections }, () => new Connection(target.hostname, Number(target.port)));
  const total = Math.max(1, Math.round(ratePerSec * durationS));
  const intervalMs = 1000 / ratePerSec;
  const result: PacedLoadResult = { latenciesMs: [], ok: 0, non2xx: 0, errors: 0, durationS: 0 };
  const waiting: number[] = []; // due moments of requests waiting for a free connection
  let answered = 0;
  let due = 0;
  const start = performance.now();

  await new Promise<void>((resolve) => {
    const answer = (): void => {
      if (++answered === total) resolve();
    };
    const dispatch = (connection: Connection, dueAt: number): void => {
      connection.send(request, (status) => {
        if (status >= 200 && status < 300) {
          result.ok++;
          result.latenciesMs.push(performance.now() - dueAt);
        } else if (status === 0) {
          result.errors++;
        } else {
          result.non2xx++;
        }
        answer();
        const next = waiting.shift();
        if (next === undefined) return;
        const free = connection.free ? connection : pool.find((c) => c.free);
        if (free) dispatch(free, next);
        else if (pool.every((c) => c.dead)) failWaiting(next);
        else waiting.unshift(next);
      });
    };
    // With every connection gone, what waits can never be sent: each counts as an error.
    const failWaiting = (first: number): void => {
      for (const _ of [first, ...waiting.splice(0)]) {
        result.errors++;
        answer();
      }
    };
    // Each tick sends every request that has come due (a late timer catches up), then sleeps until the next one.
    const tick = (): void => {
      const now = performance.now();
      while (due < total && start + due * intervalMs <= now) {
        const dueAt = start + due++ * intervalMs;
        const free = pool.find((c) => c.free);
        if (free) dispatch(free, dueAt);
        else if (pool.every((c) => c.dead)) failWaiting(dueAt);
        else waiting.push(dueAt);
      }
      if (due < total) setTimeout(tick, Math.max(0, start + due * intervalMs - performance.now()));
    };
    tick();
  });
  result.durationS = (performance.now() - start) / 1000;
  for (const c of pool) c.close();
  return result;
}

/** The q-quantile (0..1) of `values` by the nearest-rank method, to 0.1 ms. */
export function quantileMs(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(10 * (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number)) / 10;
}
