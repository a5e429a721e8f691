// Environment blocks as the kernel stores them (/proc/<pid>/environ, an execve envp): NUL-separated
// NAME=VALUE entries, bytes. Pure.

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

/**
 * The value of `name` in an environment block (the first entry wins), without parsing the rest: a
 * resolution needs only the variables its target names, and a block may be megabytes.
 */
export function environValue(block: Buffer, name: string): Buffer | undefined {
  const key = Buffer.from(name + '=', 'latin1');
  let at = 0;
  while (at < block.length) {
    if (block.compare(key, 0, key.length, at, Math.min(at + key.length, block.length)) === 0) {
      const end = block.indexOf(0, at);
      return block.subarray(at + key.length, end < 0 ? block.length : end);
    }
    const next = block.indexOf(0, at);
    if (next < 0) return undefined;
    at = next + 1;
  }
  return undefined;
}

/** Serialises variables into an environment block (tests and tools). */
export function formatEnviron(vars: Iterable<[string, string | Buffer]>): Buffer {
  const pieces: Buffer[] = [];
  for (const [name, value] of vars) pieces.push(Buffer.from(name, 'latin1'), Buffer.from('='), Buffer.from(value), Buffer.from([0]));
  return Buffer.concat(pieces);
}
