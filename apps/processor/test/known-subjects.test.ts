// The subject triples a process knows to be committed (src/known-subjects.ts): what it leaves out of the copy
// path's statement, and what it forgets. No services needed; store.test.ts has the same through PostgreSQL.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { KnownSubjects, type SubjectTriples } from "../src/known-subjects.js";

const M0 = Date.UTC(2025, 0, 15, 10, 0);
const M1 = M0 + 60_000;
const M2 = M1 + 60_000;

function triples(...rows: [string, number, string][]): SubjectTriples {
  return { type: rows.map((r) => r[0]), minute: rows.map((r) => r[1]), subject: rows.map((r) => r[2]) };
}
const list = (t: SubjectTriples) => t.type.map((type, i) => `${type} ${(t.minute[i] as number) - M0} ${t.subject[i]}`);

describe("known subjects", () => {
  test("only triples added are left out; the same subject in another type or minute is not known", () => {
    const known = new KnownSubjects();
    known.add(triples(["t1", M0, "s1"], ["t1", M0, "s2"]));
    const asked = triples(["t1", M0, "s1"], ["t1", M0, "s3"], ["t2", M0, "s1"], ["t1", M1, "s1"], ["t1", M0, "s2"]);
    assert.deepEqual(list(known.unknown(asked)), ["t1 0 s3", "t2 0 s1", "t1 60000 s1"]);
    assert.equal(known.size, 2);
    // Adding a triple twice counts it once.
    known.add(triples(["t1", M0, "s1"]));
    assert.equal(known.size, 2);
  });

  test("past its bound it forgets whole minutes, the oldest first, and what it forgot is sent again", () => {
    const known = new KnownSubjects(4);
    known.add(triples(["t", M1, "a"], ["t", M1, "b"]));
    known.add(triples(["t", M0, "a"], ["u", M0, "a"]));
    assert.equal(known.size, 4);
    known.add(triples(["t", M2, "a"]));
    // Five triples: minute M0 (the oldest) goes, although M1 was added first.
    assert.equal(known.size, 3);
    assert.deepEqual(list(known.unknown(triples(["t", M0, "a"], ["u", M0, "a"], ["t", M1, "a"], ["t", M1, "b"], ["t", M2, "a"]))), ["t 0 a", "u 0 a"]);
  });
});
