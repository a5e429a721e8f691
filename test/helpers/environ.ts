// Environment blocks for the unit tests of src/environ.ts: a full parser (the model environValue must agree
// with) and a serialiser. The daemon reads only the variables a target names (environValue; the C side reads
// /proc itself), so neither is part of src.

/**
 * Parses an environment block; the first entry of a name wins, as with getenv(3). Names are keyed as
 * latin1 (one character per byte, so no two byte strings share a key); values stay bytes.
 */
export function parseEnviron(block: Buffer): Map<string, Buffer> {
  const vars = new Map<string, Buffer>();
  let start = 0;
  while (start < block.length) {
    let end = block.indexOf(0, start);
    if (end < 0) end = block.length;
    const eq = block.indexOf(0x3d, start);
    if (eq > start && eq < end) {
      const name = block.toString('latin1', start, eq);
      if (!vars.has(name)) vars.set(name, block.subarray(eq + 1, end));
    }
    start = end + 1;
  }
  return vars;
}

/** Serialises variables into an environment block. */
export function formatEnviron(vars: Iterable<[string, string | Buffer]>): Buffer {
  const pieces: Buffer[] = [];
  for (const [name, value] of vars) pieces.push(Buffer.from(name, 'latin1'), Buffer.from('='), Buffer.from(value), Buffer.from([0]));
  return Buffer.concat(pieces);
}
