// `varsymfs link <mount> --from mise|asdf|nvm|pyenv|rbenv|goenv`: one variant link per installed tool, into
// the version manager's own install tree; `--defaults-from mise`: its global versions as mount defaults.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VarsymfsError } from './errors';
import { LinkInspector } from './inspect';
import { parseToolVersions, TOOL_ALIASES, toolVariable, versionValue } from './project';

// smol-toml ships CommonJS (its `require` export) but declares its types for ES modules only.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parse: parseToml } = require('smol-toml') as typeof import('smol-toml', { with: { 'resolution-mode': 'import' } });

export const MANAGERS = ['mise', 'asdf', 'nvm', 'pyenv', 'rbenv', 'goenv'] as const;
export type Manager = (typeof MANAGERS)[number];

/** Where a manager keeps its installs: a directory per tool (`perTool`), or the versions of one tool. */
export function installRoot(manager: Manager, env: NodeJS.ProcessEnv): { dir: string; tool?: string } {
  const home = env.HOME || os.homedir();
  switch (manager) {
    case 'mise': return { dir: path.join(env.MISE_DATA_DIR || path.join(env.XDG_DATA_HOME || path.join(home, '.local', 'share'), 'mise'), 'installs') };
    case 'asdf': return { dir: path.join(env.ASDF_DATA_DIR || path.join(home, '.asdf'), 'installs') };
    case 'nvm': return { dir: path.join(env.NVM_DIR || path.join(home, '.nvm'), 'versions', 'node'), tool: 'node' };
    case 'pyenv': return { dir: path.join(env.PYENV_ROOT || path.join(home, '.pyenv'), 'versions'), tool: 'python' };
    case 'rbenv': return { dir: path.join(env.RBENV_ROOT || path.join(home, '.rbenv'), 'versions'), tool: 'ruby' };
    case 'goenv': return { dir: path.join(env.GOENV_ROOT || path.join(home, '.goenv'), 'versions'), tool: 'go' };
  }
}

export interface PlannedLink {
  /** The link's name in the mount (the tool's own name: asdf's `golang` plugin makes `go`). */
  name: string;
  target: string;
}

/** The links for the installs a manager has, from the names in its tree (`list` reads a directory). */
export function plannedLinks(manager: Manager, env: NodeJS.ProcessEnv, list: (dir: string) => string[]): PlannedLink[] {
  const root = installRoot(manager, env);
  const hasVersions = (dir: string) => list(dir).some((v) => !v.startsWith('.'));
  const tools = root.tool !== undefined ? (hasVersions(root.dir) ? [[root.tool, root.dir] as const] : []) : list(root.dir).filter((t) => !t.startsWith('.') && hasVersions(path.join(root.dir, t))).map((t) => [t, path.join(root.dir, t)] as const);
  const links: PlannedLink[] = [];
  for (const [tool, dir] of tools.sort(([a], [b]) => (a < b ? -1 : 1))) {
    const variable = toolVariable(tool);
    if (variable === undefined) continue;
    links.push({ name: TOOL_ALIASES.get(tool) ?? tool, target: path.join(dir, `$<${variable}>`) });
  }
  return links;
}

/** mise's global versions: ~/.config/mise/config.toml's [tools], then ~/.tool-versions over them (it is nearer). */
export function miseGlobals(configToml: string | undefined, toolVersions: Buffer | undefined): { set: Map<string, string>; skipped: string[] } {
  const set = new Map<string, string>();
  const skipped: string[] = [];
  const take = (tool: string, value: unknown, from: string) => {
    const first = Array.isArray(value) ? value[0] : value;
    const written = typeof first === 'object' && first !== null && 'version' in first ? (first as { version: unknown }).version : first;
    const variable = toolVariable(tool);
    const v = typeof written === 'string' ? versionValue(Buffer.from(written)) : undefined;
    if (variable === undefined || v === undefined) return void skipped.push(`${tool} in ${from}: ${JSON.stringify(written)} names no install directory`);
    set.set(variable, v.toString());
  };
  if (configToml !== undefined) {
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(configToml);
    } catch (err) {
      throw new VarsymfsError(`~/.config/mise/config.toml is not valid TOML: ${(err as Error).message.split('\n')[0]}`, { cause: err });
    }
    const tools = doc.tools;
    if (typeof tools === 'object' && tools !== null) for (const [tool, value] of Object.entries(tools)) take(tool, value, 'config.toml');
  }
  if (toolVersions !== undefined) {
    for (const e of parseToolVersions(toolVersions)) {
      if (e.value === undefined) skipped.push(`${e.variable} in ~/.tool-versions:${e.line}: ${JSON.stringify(e.written.toString())} names no install directory`);
      else set.set(e.variable, e.value.toString());
    }
  }
  return { set, skipped };
}

/** A directory's entries that are directories, or none. */
function listDirs(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() || e.isSymbolicLink()).map((e) => e.name);
  } catch {
    return [];
  }
}

function readOr(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Makes the links in `dir`; returns what it did, one line each, and whether anything was left alone. */
export async function makeLinks(dir: string, manager: Manager, force: boolean, env: NodeJS.ProcessEnv = process.env): Promise<{ lines: string[]; skipped: boolean }> {
  const planned = plannedLinks(manager, env, listDirs);
  const root = installRoot(manager, env).dir;
  if (planned.length === 0) return { lines: [`no installs found in ${root}: nothing to link`], skipped: false };
  const lines: string[] = [];
  let skipped = false;
  const inspector = new LinkInspector(process.pid);
  for (const p of planned) {
    const at = path.join(dir, p.name);
    const e = await inspector.look(at);
    if (e.kind === 'link' && e.raw === p.target) {
      lines.push(`unchanged ${at} -> ${p.target}`);
      continue;
    }
    if (e.kind !== 'missing') {
      const what = e.kind === 'link' ? `a link to ${e.raw}` : e.kind === 'directory' ? 'a directory' : 'a file';
      if (!force || e.kind === 'directory') {
        skipped = true;
        lines.push(`skipped ${at}: it is ${what}${e.kind === 'directory' ? '' : ' (--force replaces it)'}`);
        continue;
      }
      fs.unlinkSync(at);
      fs.symlinkSync(p.target, at);
      lines.push(`replaced ${at} -> ${p.target} (was ${what})`);
      continue;
    }
    fs.symlinkSync(p.target, at);
    lines.push(`linked ${at} -> ${p.target}`);
  }
  return { lines, skipped };
}

/** mise's global versions, read from `home`. */
export function readMiseGlobals(env: NodeJS.ProcessEnv = process.env): ReturnType<typeof miseGlobals> {
  const home = env.HOME || os.homedir();
  const config = path.join(env.MISE_CONFIG_DIR || path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'mise'), 'config.toml');
  return miseGlobals(readOr(config)?.toString('utf8'), readOr(path.join(home, '.tool-versions')));
}
