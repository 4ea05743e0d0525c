/**
 * Query parameters in PostgreSQL's binary format: the rollup statements take a batch's aggregates as arrays, which
 * node-postgres sends as they are when they are Buffers (binary parameters), so the server parses no text for them.
 */
import { PG_EPOCH_MS } from "./timestamp.js";

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
