/**
 * Test support: reads the spans out of an OTLP http/protobuf export request (ExportTraceServiceRequest), so tests
 * can assert what a service exported to a stand-in collector. Only the fields the tests look at are read; field
 * numbers from opentelemetry-proto (opentelemetry/proto/trace/v1/trace.proto, common/v1/common.proto, resource/v1,
 * collector/trace/v1/trace_service.proto; read 2026-12-06). Not part of the services' images.
 */

interface Field {
  no: number;
  value: bigint | Buffer;
}

function varint(buf: Buffer, at: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const byte = buf[at++];
    if (byte === undefined) throw new Error("truncated varint");
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, at];
    shift += 7n;
  }
}

/** The fields of one protobuf message, in order. */
export function protobufFields(buf: Buffer): Field[] {
  const fields: Field[] = [];
  let at = 0;
  while (at < buf.length) {
    const [key, next] = varint(buf, at);
    at = next;
    const no = Number(key >> 3n);
    switch (Number(key & 7n)) {
      case 0: {
        const [value, after] = varint(buf, at);
        fields.push({ no, value });
        at = after;
        break;
      }
      case 1:
        fields.push({ no, value: buf.readBigUInt64LE(at) });
        at += 8;
        break;
      case 2: {
        const [length, after] = varint(buf, at);
        const end = after + Number(length);
        fields.push({ no, value: buf.subarray(after, end) });
        at = end;
        break;
      }
      case 5:
        fields.push({ no, value: BigInt(buf.readUInt32LE(at)) });
        at += 4;
        break;
      default:
        throw new Error(`unsupported wire type in field ${no}`);
    }
  }
  return fields;
}

const bytes = (fields: Field[], no: number): Buffer[] => fields.filter((f) => f.no === no).map((f) => f.value as Buffer);
const one = (fields: Field[], no: number): Buffer | undefined => bytes(fields, no)[0];

export interface ExportedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
}

export interface ExportedResourceSpans {
  /** The resource's string attributes. */
  resource: Record<string, string>;
  spans: ExportedSpan[];
}

export function decodeTraceExport(body: Buffer): ExportedResourceSpans[] {
  return bytes(protobufFields(body), 1).map((rs) => {
    const rsFields = protobufFields(rs);
    const resource: Record<string, string> = {};
    const res = one(rsFields, 1);
    for (const kv of res === undefined ? [] : bytes(protobufFields(res), 1)) {
      const kvFields = protobufFields(kv);
      const value = one(kvFields, 2);
      const str = value === undefined ? undefined : one(protobufFields(value), 1);
      if (str !== undefined) resource[(one(kvFields, 1) ?? Buffer.alloc(0)).toString("utf8")] = str.toString("utf8");
    }
    const spans = bytes(rsFields, 2).flatMap((ss) =>
      bytes(protobufFields(ss), 2).map((span) => {
        const f = protobufFields(span);
        const parent = one(f, 4);
        return {
          traceId: (one(f, 1) ?? Buffer.alloc(0)).toString("hex"),
          spanId: (one(f, 2) ?? Buffer.alloc(0)).toString("hex"),
          parentSpanId: parent === undefined || parent.length === 0 ? undefined : parent.toString("hex"),
          name: (one(f, 5) ?? Buffer.alloc(0)).toString("utf8"),
          kind: Number(f.find((x) => x.no === 6)?.value ?? 0n),
        };
      }),
    );
    return { resource, spans };
  });
}
