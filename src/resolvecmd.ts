// `varsymfs resolve <path>`: what a link, or a path through links, leads to for a process; exit 1 with
// one line when the end is not there (a version that is not installed).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { printable, printableJson } from './control';
import { VarsymfsError } from './errors';
import { LinkInspector, mountOf, type ResolveAnswer } from './inspect';
import { notInstalled, walkLinks } from './linkwalk';

export interface ResolveOptions {
  pid?: number;
  explain?: boolean;
  json?: boolean;
}

/** resolve --explain's "link owner" line: whose link it is, and whether that lets it read the environment. */
export function linkOwnerLine(o: { rule: string; uid: number; follower: number }): string {
  if (o.rule === 'follower') return `uid ${o.uid}: the follower`;
  if (o.rule === 'root') return `uid ${o.uid}: root`;
  if (o.rule === 'mountOwner') return `uid ${o.uid}: the mount's owner`;
  return `uid ${o.uid}, not the follower (uid ${o.follower}), root or the mount's owner: the follower's environment is not read`;
}

/** The `--explain` lines of one link's answer. */
export function explainLines(r: ResolveAnswer, pidGiven: boolean): string[] {
  const lines = [
    `link         ${r.link} -> ${r.raw}`,
    `resolves to  ${r.target}`,
    `for pid      ${r.pid}${pidGiven ? '' : ' (this command: what a program started here sees)'}`,
  ];
  if (!r.variant) lines.push('references   none (a plain symlink)');
  else {
    lines.push(`environment  ${r.environment}`, `pending exec ${r.pendingExecCheck}`, `project      ${r.projectFiles}`);
    for (const s of r.skipped ?? []) lines.push(`  ${s.kind.padEnd(11)}${s.text}`);
    if (r.linkOwner !== undefined) lines.splice(3, 0, `link owner   ${linkOwnerLine(r.linkOwner)}`);
    for (const ref of r.refs) {
      const from = ref.file === undefined ? '' : ref.scope === 'project file' ? `  ${ref.file}` : `  (${ref.file} defers)`;
      lines.push(`  $<${ref.name}>  ${ref.scope.padEnd(15)}  ${ref.scope === 'unresolved' ? '(left literal)' : JSON.stringify(ref.value)}${from}`);
      const m = ref.match;
      if (m !== undefined) {
        const tried = `tried ${m.tried.join(', ')} in ${m.dir}`;
        lines.push(m.matched !== undefined ? `    matched  ${m.matched} (${m.rule}); ${tried}` : `    not installed: none matched; ${tried}`);
      }
    }
  }
  return lines;
}

export async function resolveCommand(file: string, o: ResolveOptions): Promise<void> {
  if (o.pid !== undefined && !fs.existsSync(`/proc/${o.pid}`)) throw new VarsymfsError(`--pid ${o.pid}: no process ${o.pid} (it has exited, or it is in another pid namespace)`);
  const abs = path.resolve(file);
  const inspector = new LinkInspector(o.pid ?? process.pid);
  // The walk gets the path as given (made absolute), never normalised: `..` after a link goes up from where
  // the link led, and a trailing `/` or `/.` after a file is ENOTDIR, as the kernel does.
  const walk = await walkLinks(path.isAbsolute(file) ? file : `${process.cwd()}/${file}`, inspector.look);
  if (inspector.answers.size === 0) {
    mountOf(abs); // outside every mount, and no link led into one: says so
    if (walk.hops.length === 0) throw new VarsymfsError(walk.exists ? `${abs} is not a symlink` : notInstalled(walk));
  }
  const answers = walk.hops.map((h) => inspector.answers.get(h.link) ?? { ...h, pid: o.pid ?? process.pid, variant: h.variant });
  const itself = walk.hops.length === 1 && walk.hops[0]!.link === abs;
  let out: string[] = [];
  // JSON: the link's own answer (when <path> is a link), every link on the way, and where it ends.
  if (o.json) out = [printableJson({ ...(walk.hops[0]?.link === abs ? answers[0] : {}), hops: answers, path: walk.path, exists: walk.exists })];
  else if (o.explain) {
    for (const h of walk.hops) {
      const a = inspector.answers.get(h.link);
      out.push(...(a === undefined ? [`link         ${h.link} -> ${h.raw}  (outside varsymfs)`] : explainLines(a, o.pid !== undefined)));
    }
    if (!itself) out.push(`path         ${walk.path}`);
  } else if (walk.exists) {
    out = itself ? [walk.hops[0]!.target] : [...walk.hops.map((h) => `${h.link} -> ${h.target}${h.variant ? `  (${h.raw})` : ''}`), walk.path];
  }
  // What the daemons said, as a terminal may show it (control characters as \xHH).
  if (out.length > 0) process.stdout.write((o.json ? out : out.map(printable)).join('\n') + '\n');
  if (!walk.exists) throw new VarsymfsError(notInstalled(walk));
}
