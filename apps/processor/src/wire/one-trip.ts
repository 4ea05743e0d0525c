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
 * transaction. The messages are the client's own serializers' (pg-protocol, through pg's Connection), written in
 * order on its stream, except the CopyData header (see copyDataHeader). README.md lists what this relies on.
 */
import type pg from "pg";

/** What a connection must offer (pg's Connection; its typings omit the stream writes and the optional flags). */
interface WireConnection {
  readonly stream: { cork(): void; uncork(): void; write(b: Buffer): boolean };
  parse(q: { name?: string; text: string; types?: number[] }): void;
  bind(c: { statement?: string; values?: (Buffer | string | null)[] }): void;
  execute(c?: { portal?: string; rows?: number }): void;
  close(m: { type: "S" | "P"; name?: string }): void;
  /** CopyDone. */
  endCopyFrom(): void;
  flush(): void;
  sync(): void;
}

/** A named prepared statement and the binary parameters of one execution. */
export interface TripStatement {
  name: string;
  text: string;
  /** Parameters in binary format (see binaryArray). */
  values: Buffer[];
}

/** CopyData: the message type byte, then the length of the message without it (the length field included). */
const COPY_DATA = { type: 0x64, headerBytes: 5 } as const;

/**
 * The header of a CopyData message of `payloadBytes` bytes, written in front of the payload instead of the client's
 * serializer's copyData(chunk), which copies the chunk into a freshly allocated buffer of its size: a batch's payload
 * is megabytes, and allocating and copying it again per batch was the external-memory pressure the pooled buffers
 * (copy-binary.ts) removed. pg-copy-streams frames its chunks the same way (copy-from.js).
 */
function copyDataHeader(payloadBytes: number): Buffer {
  const header = Buffer.allocUnsafe(COPY_DATA.headerBytes);
  header[0] = COPY_DATA.type;
  header.writeInt32BE(payloadBytes + COPY_DATA.headerBytes - 1, 1);
  return header;
}

/** Runs a batch's COPY then its statement in one transaction; oneTrip is the one the processor uses. */
export type BatchTrip = (client: pg.PoolClient, copySql: string, copyData: Buffer, statement: TripStatement, onCopied?: () => void) => Promise<(string | null)[][]>;

/** Connections on which a statement name has been parsed (the name is in the key: one set per statement). */
const prepared = new Map<string, WeakSet<object>>();

/**
 * `copySql` fed with `copyData` (COPY data: sent as one CopyData message), then `statement`, in one implicit
 * transaction. Resolves with the statement's rows (text fields, in its column order) once the transaction has
 * committed; rejects with the first error, the transaction rolled back. `onCopied` is called once the COPY is done.
 */
export const oneTrip: BatchTrip = (client, copySql, copyData, statement, onCopied) => {
  const trip = new OneTrip(copySql, copyData, statement, onCopied);
  client.query(trip as unknown as pg.Submittable);
  return trip.done;
};

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
    con.stream.write(copyDataHeader(this.#copyData.length));
    con.stream.write(this.#copyData);
    con.endCopyFrom();
    // Flush: the server sends the COPY's CommandComplete as soon as the COPY is done, not with the Sync's reply.
    if (this.#onCopied) con.flush();
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
