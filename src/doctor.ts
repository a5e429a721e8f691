// `varsymfs doctor`: the silent failure of a dangling variant link on PATH. When `~/vs/terraform/bin` leads
// to a version that is not installed, the shell quietly runs the next `terraform` on PATH: say which.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LinkInspector } from './inspect';
import { lastVariant, notInstalled, walkLinks, type Walk } from './linkwalk';

/** Names of the programs other versions of the same tool have in the same place (what the entry would hold). */
export function siblingPrograms(walk: Walk, entry: string): string[] {
  const hop = lastVariant(walk);
  if (hop === undefined) return [];
  const expanded = path.resolve(path.dirname(hop.link), hop.target);
  // What the entry adds below the link (`bin`), looked up in every installed version beside the missing one.
  const below = path.relative(hop.link, entry);
  const names = new Set<string>();
  let versions: string[] = [];
  try {
    versions = fs.readdirSync(path.dirname(expanded));
  } catch {
    return [];
  }
  for (const v of versions) {
    try {
      for (const name of fs.readdirSync(path.join(path.dirname(expanded), v, below))) names.add(name);
    } catch {
      // not a version directory
    }
  }
  return [...names].sort();
}

/** The first executable `name` in `dirs`. */
function firstOnPath(name: string, dirs: readonly string[]): string | undefined {
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The warnings for PATH `envPath`, as this process (its environment and working directory) sees it. */
export async function pathWarnings(envPath: string): Promise<string[]> {
  const dirs = envPath.split(':').filter((d) => d !== '' && path.isAbsolute(d));
  const warnings: string[] = [];
  const inspector = new LinkInspector(process.pid);
  for (const [i, entry] of dirs.entries()) {
    let walk: Walk;
    try {
      walk = await walkLinks(entry, inspector.look);
    } catch (err) {
      warnings.push(`PATH entry ${entry}: ${(err as Error).message}`);
      continue;
    }
    if (walk.exists || lastVariant(walk) === undefined) continue;
    warnings.push(`PATH entry ${entry}: ${notInstalled(walk)}`);
    for (const name of siblingPrograms(walk, entry)) {
      const other = firstOnPath(name, dirs.slice(i + 1));
      warnings.push(other === undefined ? `  ${name}: no other on PATH (command not found)` : `  ${name} would run ${other} instead`);
    }
  }
  return warnings;
}

export async function doctorCommand(): Promise<void> {
  const warnings = await pathWarnings(process.env.PATH ?? '');
  process.stdout.write(warnings.length === 0 ? 'no problems: every variant link on PATH leads to an installed version\n' : warnings.join('\n') + '\n');
  if (warnings.length > 0) process.exitCode = 1;
}
