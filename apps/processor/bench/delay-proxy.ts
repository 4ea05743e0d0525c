/**
 * A TCP proxy that holds every chunk for a fixed time in each direction before passing it on: PostgreSQL on this
 * machine answers within microseconds, where an Aurora writer in another availability zone answers a millisecond or
 * two later. Through it, what a round trip costs shows up in the benchmark (bench/proxied-writes.ts).
 *
 * Each chunk is delayed on its own (a timer per chunk, all of one duration, so they fire in arrival order): a
 * payload of many chunks arrives `delayMs` late, not `delayMs` per chunk late, as on a network whose bandwidth is
 * not the bound. Node.js timers count whole milliseconds (a fraction is truncated), and fire at least that late.
 */
import net from "node:net";

export interface DelayProxy {
  /** The port on 127.0.0.1 that clients connect to instead of the target's. */
  port: number;
  close(): Promise<void>;
}

/** Starts a proxy to `target` on a free port of 127.0.0.1 that delays each direction by `delayMs` (a whole number, ≥ 1). */
export async function startDelayProxy(target: { host: string; port: number }, delayMs: number): Promise<DelayProxy> {
  if (!Number.isInteger(delayMs) || delayMs < 1) throw new Error(`the proxy's delay must be a whole number of milliseconds, at least 1, got ${delayMs}`);
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      open.add(socket);
      socket.once("close", () => open.delete(socket));
    }
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once("error", closeBoth).once("close", closeBoth);
    upstream.once("error", closeBoth).once("close", closeBoth);
    relay(client, upstream, delayMs);
    relay(upstream, client, delayMs);
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Passes what `from` sends to `to`, each chunk `delayMs` later; `from` waits while `to` cannot take more. */
function relay(from: net.Socket, to: net.Socket, delayMs: number): void {
  let waitingForDrain = false;
  from.on("data", (chunk: Buffer) => {
    setTimeout(() => {
      if (to.destroyed || to.write(chunk) || waitingForDrain) return;
      waitingForDrain = true;
      from.pause();
      to.once("drain", () => {
        waitingForDrain = false;
        from.resume();
      });
    }, delayMs);
  });
  from.once("end", () => setTimeout(() => to.end(), delayMs));
}
