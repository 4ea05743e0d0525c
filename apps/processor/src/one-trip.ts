/**
 * A batch's whole PostgreSQL transaction in one round trip.
 *
 * The extended query protocol lets a client write every message of a transaction before it reads any reply
 * (https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-PIPELINING). One batch is written
 * as: COPY ... FROM STDIN (Parse, Bind, Execute), the rows (CopyData, CopyDone), the rollup statement (Bind and
 * Execute of a named prepared statement, parsed once per connection), Sync. With no BEGIN, everything before
 * the Sync is one implicit transaction, which the Sync commits when every message succeeded; at the first error
 * the server rolls it back and skips to the Sync, COPY data included ("any subsequent CopyData, CopyDone, or
 * CopyFail messages issued by the frontend will simply be dropped", protocol-flow.html#PROTOCOL-COPY). So a batch
 * either commits whole or changes nothing, as with BEGIN ... COMMIT, but the server runs it without waiting for
 * the processor between statements: with BEGIN, COPY (two trips: CopyInResponse, then the data), the rollup
 * statement and COMMIT, it waited five times for a reply to be read and the next message written, each time
 * behind whatever the processor's thread was doing (decoding the next batch).
 *
 * It runs as a node-postgres Submittable on a pooled client: the client routes the replies of its active query
 * here and treats ReadyForQuery (the reply to Sync) or an error as the end of it, which is exactly one
 * transaction. The messages are the client's own serializers' (pg-protocol), written in order on its stream.
 */
import type pg from "pg";
import { PG_EPOCH_MS } from "./timestamp.js";

/** What a connection must offer (pg's Connection; its typings omit the stream writes and the optional flags). */
interface WireConnection {
  readonly stream: { cork(): void; uncork(): void; write(b: Buffer): boolean };
  parse(q: { name?: string; text: string; types?: number[] }): void;
  bind(c: { statement?: string; values?: (Buffer | string | null)[] }): void;
  execute(c?: { portal?: string; rows?: number }): void;
  close(m: { type: "S" | "P"; name?: string }): void;
  sync(): void;
}

/** A named prepared statement and the binary parameters of one execution. */
export interface TripStatement {
  name: string;
  text: string;
  /** Parameters in binary format (see binaryArray). */
  values: Buffer[];
}

/** CopyDone, Flush. */
const COPY_DONE = Buffer.from([0x63, 0, 0, 0, 4]);
const FLUSH = Buffer.from([0x48, 0, 0, 0, 4]);

/** Connections on which a statement name has been parsed (the name is in the key: one set per statement). */
const prepared = new Map<string, WeakSet<object>>();

/**
 * `copySql` fed with `copyData` (one or more whole CopyData messages, see copyDataMessage), then `statement`, in
 * one implicit transaction. Resolves with the statement's rows (text fields, in its column order) once the
 * transaction has committed; rejects with the first error, the transaction rolled back.
 */
export function oneTrip(client: pg.PoolClient, copySql: string, copyData: Buffer, statement: TripStatement, onCopied?: () => void): Promise<(string | null)[][]> {
  const trip = new OneTrip(copySql, copyData, statement, onCopied);
  client.query(trip as unknown as pg.Submittable);
  return trip.done;
}

/** Puts the 5-byte CopyData header in front of `body`, in the 5 bytes reserved at its start. */
export function copyDataMessage(bodyWithRoom: Buffer): Buffer {
  bodyWithRoom[0] = 0x64; // 'd'
  bodyWithRoom.writeInt32BE(bodyWithRoom.length - 1, 1);
  return bodyWithRoom;
}

class OneTrip {
  readonly done: Promise<(string | null)[][]>;
  readonly #rows: (string | null)[][] = [];
  readonly #copySql: string;
  readonly #copyData: Buffer;
  readonly #statement: TripStatement;
  #connection: WireConnection | undefined;
  #settle!: (err: Error | undefined) => void;
  #onCopied: (() => void) | undefined;

  constructor(copySql: string, copyData: Buffer, statement: TripStatement, onCopied?: () => void) {
    this.#copySql = copySql;
    this.#copyData = copyData;
    this.#statement = statement;
    this.#onCopied = onCopied;
    this.done = new Promise((resolve, reject) => {
      let settled = false;
      this.#settle = (err) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve(this.#rows);
      };
    });
  }

  submit(connection: unknown): void {
    const con = connection as WireConnection;
    this.#connection = con;
    const { name, text, values } = this.#statement;
    let parsed = prepared.get(name);
    if (!parsed) prepared.set(name, (parsed = new WeakSet()));
    // Corked: the messages leave in as few writes as the socket takes, the rows without another copy.
    con.stream.cork();
    con.parse({ text: this.#copySql });
    con.bind({});
    con.execute();
    con.stream.write(this.#copyData);
    con.stream.write(COPY_DONE);
    // Flush: the server sends the COPY's CommandComplete as soon as the COPY is done, not with the Sync's reply.
    if (this.#onCopied) con.stream.write(FLUSH);
    if (!parsed.has(con)) {
      // Not known to exist on this connection: an earlier trip that failed may or may not have parsed it, and
      // Close of a statement that does not exist is not an error, so close, then parse.
      con.close({ type: "S", name });
      con.parse({ name, text });
    }
    con.bind({ statement: name, values });
    con.execute();
    con.sync();
    con.stream.uncork();
  }

  handleDataRow(msg: { fields: (string | null)[] }): void {
    this.#rows.push(msg.fields);
  }

  handleError(err: Error): void {
    // The server has rolled the transaction back; its ReadyForQuery follows and frees the client (pg's client
    // ends the active query at the error, so it is not routed here).
    this.#settle(err);
  }

  handleReadyForQuery(): void {
    // Sync processed with no error: every message succeeded and the implicit transaction committed.
    if (this.#connection) prepared.get(this.#statement.name)?.add(this.#connection);
    this.#settle(undefined);
  }

  // Replies with nothing to keep: ParseComplete, BindComplete, CloseComplete are not routed to a query at all.
  handleRowDescription(): void {}

  handleCommandComplete(): void {
    // The first CommandComplete is the COPY's.
    const copied = this.#onCopied;
    this.#onCopied = undefined;
    copied?.();
  }
  handleCopyInResponse(): void {}
  handleCopyData(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
}

// ----------------------------------------------------------------------------------------- binary parameters

/** Element type OIDs (pg_type). */
export const OID = { int8: 20, text: 25, timestamptz: 1184 } as const;


/**
 * A one-dimensional array in PostgreSQL's binary format (array_send): ndim, has-nulls flag, element type, size
 * and lower bound, then each element as length and bytes. No NULL elements. Text is UTF-8; timestamptz is given
 * as epoch milliseconds; int8 as numbers (exact below 2^53).
 */
export function binaryArray(type: keyof typeof OID, items: readonly (string | number)[]): Buffer {
  if (items.length === 0) {
    const b = Buffer.alloc(12);
    b.writeInt32BE(OID[type], 8);
    return b;
  }
  let size = 20;
  for (const v of items) size += 4 + (type === "text" ? Buffer.byteLength(v as string) : 8);
  const b = Buffer.allocUnsafe(size);
  b.writeInt32BE(1, 0);
  b.writeInt32BE(0, 4);
  b.writeInt32BE(OID[type], 8);
  b.writeInt32BE(items.length, 12);
  b.writeInt32BE(1, 16);
  let o = 20;
  for (const v of items) {
    if (type === "text") {
      const n = b.write(v as string, o + 4, "utf8");
      b.writeInt32BE(n, o);
      o += 4 + n;
    } else {
      b.writeInt32BE(8, o);
      const n = type === "timestamptz" ? ((v as number) - PG_EPOCH_MS) * 1000 : (v as number);
      b.writeBigInt64BE(BigInt(n), o + 4);
      o += 12;
    }
  }
  return b;
}
