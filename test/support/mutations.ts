// Small random edits of a byte string (a byte set, inserted or deleted), for
// property tests that feed a parser input that is almost right: the cases
// where a lenient reading and a strict one part ways.
import fc from "fast-check";

export interface Mutation {
  readonly op: "set" | "insert" | "delete";
  /** Taken modulo the length plus one, so any natural number is a position. */
  readonly at: number;
  readonly byte: number;
}

/** Lists of 1 to `maxLength` mutations; their bytes are any, or often one of `interesting`. */
export function mutations(
  interesting: readonly number[],
  maxLength: number,
): fc.Arbitrary<Mutation[]> {
  const mutation = fc.record({
    op: fc.constantFrom("set" as const, "insert" as const, "delete" as const),
    at: fc.nat(),
    byte: fc.oneof(fc.nat(255), fc.constantFrom(...interesting)),
  });
  return fc.array(mutation, { minLength: 1, maxLength });
}

/** `bytes` with `edits` applied in order. */
export function mutate(bytes: Buffer, edits: readonly Mutation[]): Buffer {
  const out = [...bytes];
  for (const edit of edits) {
    const at = edit.at % (out.length + 1);
    if (edit.op === "set") out[Math.min(at, out.length - 1)] = edit.byte;
    else if (edit.op === "insert") out.splice(at, 0, edit.byte);
    else out.splice(at, 1);
  }
  return Buffer.from(out);
}
