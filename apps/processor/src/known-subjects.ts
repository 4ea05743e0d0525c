/**
 * The (type, minute, subject) triples this process knows to be committed in rollup_minute_subjects, so the copy
 * path does not send them again.
 *
 * The copy path's rollup statement inserts every distinct subject triple of its batch with ON CONFLICT DO NOTHING
 * and counts the rows that were new. A triple that is already committed is a conflict, does nothing and counts
 * nothing, so leaving it out of the statement changes no row and no count; it only spares PostgreSQL the index
 * probe. Under a steady stream most of a batch's subjects were already seen earlier in the same minute (about a
 * fifth of PostgreSQL's work per batch in the benchmark went to probing them: docs/processor.md#benchmark).
 *
 * Why "known" is safe: a triple is added here only after a transaction that wrote it (or found it) has committed,
 * and nothing ever deletes from rollup_minute_subjects (the processor's role may not: src/migrate.ts), so a known
 * triple stays committed. Every stored event's triple is in that table (both write paths insert it in the
 * event's own transaction), so after any batch commits, all of its triples are known. What is forgotten (the
 * oldest minutes, past `maxEntries`) is simply sent again. Each process keeps its own; members of the group do
 * not need to agree.
 */

/** Column arrays of triples; minutes are UTC minute starts in epoch ms. */
export interface SubjectTriples {
  type: string[];
  minute: number[];
  subject: string[];
}

export const KNOWN_SUBJECTS_DEFAULTS = {
  /** Triples remembered at most (about 100 bytes each); the oldest minutes are forgotten first. */
  maxEntries: 200_000,
} as const;

export class KnownSubjects {
  /** minute → type → subjects. */
  readonly #minutes = new Map<number, Map<string, Set<string>>>();
  readonly #maxEntries: number;
  #size = 0;

  constructor(maxEntries: number = KNOWN_SUBJECTS_DEFAULTS.maxEntries) {
    this.#maxEntries = maxEntries;
  }

  /** Triples remembered now. */
  get size(): number {
    return this.#size;
  }

  /** The triples of `t` not known to be committed, in their order. */
  unknown(t: SubjectTriples): SubjectTriples {
    const out: SubjectTriples = { type: [], minute: [], subject: [] };
    for (let i = 0; i < t.type.length; i++) {
      const type = t.type[i] as string;
      const minute = t.minute[i] as number;
      const subject = t.subject[i] as string;
      if (this.#minutes.get(minute)?.get(type)?.has(subject)) continue;
      out.type.push(type);
      out.minute.push(minute);
      out.subject.push(subject);
    }
    return out;
  }

  /** Remembers `t`: call only once a transaction that wrote these triples (or met them) has committed. */
  add(t: SubjectTriples): void {
    for (let i = 0; i < t.type.length; i++) {
      const minute = t.minute[i] as number;
      const type = t.type[i] as string;
      let types = this.#minutes.get(minute);
      if (!types) this.#minutes.set(minute, (types = new Map()));
      let subjects = types.get(type);
      if (!subjects) types.set(type, (subjects = new Set()));
      const before = subjects.size;
      subjects.add(t.subject[i] as string);
      this.#size += subjects.size - before;
    }
    if (this.#size > this.#maxEntries) this.#evict();
  }

  /** Forgets whole minutes, the oldest first, until at most `maxEntries` triples remain. */
  #evict(): void {
    const oldestFirst = [...this.#minutes.keys()].sort((a, b) => a - b);
    for (const minute of oldestFirst) {
      if (this.#size <= this.#maxEntries) break;
      for (const subjects of this.#minutes.get(minute)?.values() ?? []) this.#size -= subjects.size;
      this.#minutes.delete(minute);
    }
  }
}
