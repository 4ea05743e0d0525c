// What a stack config key is, and what follows from a table of keys (components/config/schema.ts): the type of the
// values they hold, their names, and the list of keys the loader walks. Dependency-free.
import type { Parser } from "./parsers";

/** The Pulumi.yaml type of a key. */
export type ConfigType = "string" | "integer" | "boolean" | "array";

/** The YAML value a default of each type is (arrays hold strings). */
interface DefaultOf {
  string: string;
  integer: number;
  boolean: boolean;
  array: string[];
}

/** Everything said about one key. */
export interface KeySpec<T, Y extends ConfigType = ConfigType> {
  /** Its Pulumi.yaml type: the CLI checks a stack's value against it and hands the program a string (arrays as JSON). */
  type: Y;
  /** Its value where a stack file does not set it: Pulumi.yaml declares it and the CLI applies it. */
  default: DefaultOf[Y];
  /** Turns the raw string into the value StackConfig holds, or says what was expected. */
  parse: Parser<T>;
  /** What it does, for Pulumi.yaml's description and the README. */
  doc: string;
  /** Its name where that is not its path in the table (the value sits elsewhere in StackConfig than its name says). */
  key?: string;
}

const LEAF = Symbol("config key");
/** Carries a key's `key` name in its type only (KeyNames reads it); no value has this property. */
declare const NAME: unique symbol;

/** A key in a table; `N` is its `key` name, if it has one. */
export type Leaf<T, N extends string | undefined = string | undefined> = KeySpec<T> & { readonly [LEAF]: true; readonly [NAME]: N };

/** Declares a key: its value's type is what `parse` returns, its Pulumi.yaml type decides its default's. */
export const key = <T, Y extends ConfigType, const N extends string | undefined = undefined>(spec: KeySpec<T, Y> & { key?: N }): Leaf<T, N> =>
  ({ ...spec, [LEAF]: true }) as unknown as Leaf<T, N>;

export const isLeaf = (node: unknown): node is Leaf<unknown> => typeof node === "object" && node !== null && LEAF in node;

/** The values a table's keys hold, in its shape: each key's type is what its `parse` returns. */
export type ValuesOf<S> = { -readonly [K in keyof S]: S[K] extends Leaf<infer T> ? T : ValuesOf<S[K]> };

/** The name of every key of a table (`network.cidr`, `images.ingest`): its path, or its `key`. */
export type KeyNamesOf<S, P extends string = ""> = {
  [K in keyof S & string]: S[K] extends Leaf<unknown, infer N> ? ([N] extends [string] ? N : `${P}${K}`) : KeyNamesOf<S[K], `${P}${K}.`>;
}[keyof S & string];

/** A key with its name and where its value sits in the table's values. */
export type Field<N extends string = string> = KeySpec<unknown> & { name: N; path: string[] };

/** Every key of a table by name, in the table's order. */
export function fieldsOf<S extends object>(table: S): Record<KeyNamesOf<S>, Field<KeyNamesOf<S>>> {
  const out: Record<string, Field> = {};
  const walk = (node: object, path: string[]) => {
    for (const [name, child] of Object.entries(node)) {
      if (!isLeaf(child)) walk(child, [...path, name]);
      else {
        const keyName = child.key ?? [...path, name].join(".");
        out[keyName] = { type: child.type, default: child.default, parse: child.parse, doc: child.doc, name: keyName, path: [...path, name] };
      }
    }
  };
  walk(table, []);
  return out as Record<KeyNamesOf<S>, Field<KeyNamesOf<S>>>;
}
