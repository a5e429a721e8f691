// `varsymfs link`: the command around src/linkfrom.ts (links from an install tree, defaults from mise).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VarsymfsError } from './errors';
import { ask } from './inspect';
import { makeLinks, readMiseGlobals, type Manager } from './linkfrom';
import { FS_TYPE, mountAt } from './mountinfo';

export async function linkCommand(dir: string, o: { from?: string; defaultsFrom?: string; force?: boolean }): Promise<void> {
  if (o.from === undefined && o.defaultsFrom === undefined) throw new VarsymfsError('say what to link: --from <manager> and/or --defaults-from mise', { exitCode: 2 });
  const mountPoint = path.resolve(dir);
  if (!fs.existsSync(mountPoint)) throw new VarsymfsError(`${mountPoint} does not exist`);
  const out: string[] = [];
  let skipped = false;
  if (o.from !== undefined) {
    const r = await makeLinks(mountPoint, o.from as Manager, !!o.force);
    out.push(...r.lines);
    skipped = r.skipped;
  }
  if (o.defaultsFrom !== undefined) {
    const m = mountAt(mountPoint);
    if (!m || m.fsType !== FS_TYPE) throw new VarsymfsError(`--defaults-from: ${mountPoint} is not a varsymfs mount`);
    const g = readMiseGlobals();
    if (g.set.size > 0) await ask(mountPoint, { cmd: 'defaults', set: Object.fromEntries(g.set) });
    out.push(...[...g.set].map(([k, v]) => `default ${k}=${v}`), ...g.skipped.map((s) => `not a default: ${s}`));
    if (g.set.size === 0 && g.skipped.length === 0) out.push('no global versions in mise\'s config.toml or ~/.tool-versions');
  }
  process.stdout.write(out.join('\n') + '\n');
  if (skipped) process.exitCode = 1;
}
