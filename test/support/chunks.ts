// Byte streams cut at arbitrary points, for property tests of the readers
// and decoders that must not care how the bytes arrive.

/**
 * Splits `bytes` at `cuts` (each taken modulo `bytes.length + 1`, so any
 * natural number is a cut; duplicates collapse). The pieces concatenate back
 * to `bytes`; a cut at 0 or at the end gives an empty piece.
 */
export function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    pieces.push(bytes.subarray(start, point));
    start = point;
  }
  return pieces;
}
