// Environment blocks as the kernel stores them (/proc/<pid>/environ, an execve envp): NUL-separated
// NAME=VALUE entries, bytes. Pure.

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
