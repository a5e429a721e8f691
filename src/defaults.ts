// Mount defaults: values used when neither the caller's environment nor its project files give a variable. Stored with the mount's own
// data, in a file in the backing directory that the mount hides, so they persist across remounts.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { VarsymfsError } from './errors';
import { isVariableName } from './names';

export const DEFAULTS_FILE = '.varsymfs-defaults.json';

/** A bad value on the command line: exit code 2, as for every bad command line. */
const BAD_ARGUMENT = { exitCode: 2 };

/** Parses `NAME=VALUE` from the command line; throws a one-line error naming the bad argument. */
export function parseAssignment(arg: string): [string, string] {
  const eq = arg.indexOf('=');
  const name = eq < 0 ? arg : arg.slice(0, eq);
  if (eq < 0 || !isVariableName(name)) {
    throw new VarsymfsError(`invalid default '${arg}': expected NAME=VALUE with NAME matching [A-Za-z_][A-Za-z0-9_]*`, BAD_ARGUMENT);
  }
  // An empty value counts as unset everywhere (docs/semantics.md): accepting it would do nothing, silently.
  if (eq === arg.length - 1) throw new VarsymfsError(`invalid default '${arg}': an empty value counts as unset; leave it out (or remove a default with \`varsymfs defaults <mountpoint> --unset ${name}\`)`, BAD_ARGUMENT);
  return [name, arg.slice(eq + 1)];
}

/** Checks a variable name for --unset. */
export function checkName(name: string): string {
  if (!isVariableName(name)) throw new VarsymfsError(`invalid variable name '${name}': expected [A-Za-z_][A-Za-z0-9_]*`, BAD_ARGUMENT);
  return name;
}

/** Reads the defaults file at `file` (relative to the daemon's cwd, the backing root); absent means none. */
export function loadDefaults(file: string): Map<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new VarsymfsError(`cannot read mount defaults ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const obj = JSON.parse(text) as unknown;
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new Error('not an object');
    const map = new Map<string, string>();
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      if (isVariableName(k) && typeof v === 'string') map.set(k, v);
    }
    return map;
  } catch (err) {
    throw new VarsymfsError(`mount defaults file ${file} is not valid JSON (${(err as Error).message}); fix or delete it`, { cause: err });
  }
}

/**
 * Writes the defaults atomically (temp file + rename), so a crash never leaves half a file. The temp name is
 * random and created with O_EXCL | O_NOFOLLOW in the backing directory (the daemon's working directory):
 * nothing planted there, a symlink above all, is ever written through.
 */
export function saveDefaults(file: string, defaults: ReadonlyMap<string, string>, cb: (err: Error | null) => void): void {
  const tmp = `${file}.${randomBytes(16).toString('hex')}.tmp`;
  const text = JSON.stringify(Object.fromEntries([...defaults].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), null, 2) + '\n';
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  fs.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644, (err, fd) => {
    if (err) return cb(err);
    fs.write(fd, text, (err2) => {
      fs.close(fd, (err3) => {
        const failed = err2 ?? err3;
        if (failed) return fs.unlink(tmp, () => cb(failed));
        fs.rename(tmp, file, (err4) => cb(err4));
      });
    });
  });
}
