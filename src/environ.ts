// Environment blocks as the kernel stores them (/proc/<pid>/environ, an execve envp): NUL-separated
// NAME=VALUE entries. Pure.

/** Parses an environment block; the first entry of a name wins, as with getenv(3). */
export function parseEnviron(block: Buffer | string): Map<string, string> {
  const text = typeof block === 'string' ? block : block.toString('utf8');
  const vars = new Map<string, string>();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\0', start);
    if (end < 0) end = text.length;
    const eq = text.indexOf('=', start);
    if (eq > start && eq < end) {
      const name = text.slice(start, eq);
      if (!vars.has(name)) vars.set(name, text.slice(eq + 1, end));
    }
    start = end + 1;
  }
  return vars;
}

/** Serialises variables into an environment block (tests and tools). */
export function formatEnviron(vars: Iterable<[string, string]>): string {
  let out = '';
  for (const [name, value] of vars) out += `${name}=${value}\0`;
  return out;
}
