// `varsymfs status`: the mounts of this user from /proc/self/mountinfo (so dead daemons show too), each
// asked over its control socket, with CPU and memory from pidusage.
import pidusage from 'pidusage';
import * as path from 'node:path';
import { checkSocketDir, printable, request, type CacheCounters, type PendingExecReport, type ProjectReport } from './control';
import { FS_TYPE, readMounts } from './mountinfo';
import type { ConfigJson } from './daemonconfig';
import { logFile, socketPath } from './paths';

export interface MountStatus {
  mountPoint: string;
  source: string;
  alive: boolean;
  problem?: string;
  recover?: string;
  pid?: number;
  uptimeSeconds?: number;
  cpuPercent?: number;
  rssBytes?: number;
  requests?: Record<string, number>;
  resolutions?: number;
  /** The inode table's entries the kernel still references (the low-level path; 0 on the other). */
  inodes?: number;
  cache?: CacheCounters;
  defaults?: Record<string, string>;
  /** How the daemon reads the environment callers pass to execve, with the helper's counters when it uses it. */
  pendingExec?: PendingExecReport;
  /** The project scope: on or off, its files, and how often a project file answered. */
  project?: ProjectReport;
  /** The daemon's configuration: the mount options as the CLI parsed them (src/daemonconfig.ts). */
  config?: ConfigJson;
  log: string;
}

/** Status of every varsymfs mount of this user (or only `only`). */
export async function gatherStatus(only?: string): Promise<MountStatus[]> {
  const uid = process.getuid?.() ?? 0;
  const mounts = readMounts().filter((m) => m.fsType === FS_TYPE && m.superOptions.split(',').includes(`user_id=${uid}`) && (only === undefined || m.mountPoint === only));
  if (mounts.length > 0) checkSocketDir(path.dirname(socketPath(mounts[0]!.mountPoint)));
  return Promise.all(mounts.map(async (m): Promise<MountStatus> => {
    const base = { mountPoint: m.mountPoint, source: m.source, log: logFile(m.mountPoint) };
    let r;
    try {
      r = await request(socketPath(m.mountPoint), { cmd: 'status' }, 3000);
    } catch (err) {
      return { ...base, alive: false, problem: `daemon is gone (${(err as Error).message}); the mount is stale: its users get "Transport endpoint is not connected"`, recover: `varsymfs mount ${m.mountPoint}  (clears the stale mount and serves again), or: varsymfs unmount --lazy ${m.mountPoint}` };
    }
    if (!r.ok) return { ...base, alive: false, problem: r.error };
    const pid = r.pid;
    let usage: { cpu: number; memory: number } | undefined;
    try {
      // pidusage reports CPU % between two calls for the same pid: sample over a quarter second.
      await pidusage(pid);
      await new Promise((r) => setTimeout(r, 250));
      usage = await pidusage(pid);
    } catch {
      usage = undefined;
    }
    return {
      ...base,
      source: r.source,
      alive: true,
      pid,
      uptimeSeconds: r.uptimeSeconds,
      cpuPercent: usage?.cpu,
      rssBytes: usage?.memory,
      requests: r.requests,
      resolutions: r.resolutions,
      inodes: r.inodes,
      cache: r.cache,
      defaults: r.defaults,
      pendingExec: r.pendingExec,
      project: r.project,
      config: r.config,
    };
  }));
}

function duration(s: number): string {
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${m}m` : m ? `${m}m${s % 60}s` : `${s}s`;
}

/** `on (9 file names): 12 resolutions answered by a project file, 40 walks, 0 timed out`, or `off`. */
export function formatProject(p: ProjectReport): string {
  if (!p.enabled) return 'off (--no-project-files)';
  return `on (${p.files.join(' ')}): ${p.answered} resolutions answered by a project file, ${p.walks} walks, ${p.timedOut} timed out`;
}

/** `available (why)`, `via helper <path> (why; counters)` or `unavailable (why); fix: …`. */
export function formatPendingExec(p: NonNullable<MountStatus['pendingExec']>): string {
  if (p.state === 'unavailable') return `unavailable (${p.reason}); fix: ${p.fix ?? 'none'}`;
  if (p.state === 'available') return `available (${p.reason})`;
  const h = p.helperStats;
  return `via helper ${p.helper ?? ''} (${p.reason}${h ? `; ${h.answered} environments read, ${h.notInExec} not in execve, ${h.refused} refused, ${h.failed} failed` : ''})`;
}

/** The human-readable report. */
export function formatStatus(statuses: readonly MountStatus[]): string {
  if (statuses.length === 0) return 'no varsymfs mounts\n';
  const out: string[] = [];
  for (const s of statuses) {
    out.push(`${s.mountPoint}  ${s.alive ? 'alive' : 'DEAD'}`);
    out.push(`  source       ${s.source}`);
    if (!s.alive) {
      out.push(`  problem      ${s.problem ?? 'unknown'}`, `  recover      ${s.recover ?? ''}`);
    } else {
      const cpu = s.cpuPercent === undefined ? '?' : `${s.cpuPercent.toFixed(1)}%`;
      const rss = s.rssBytes === undefined ? '?' : `${(s.rssBytes / 1048576).toFixed(1)} MiB`;
      out.push(`  daemon       pid ${s.pid}, up ${duration(s.uptimeSeconds ?? 0)}, cpu ${cpu}, rss ${rss}`);
      const reqs = Object.entries(s.requests ?? {}).filter(([, n]) => n > 0).sort(([, a], [, b]) => b - a);
      out.push(`  requests     ${reqs.length ? reqs.map(([k, n]) => `${k} ${n}`).join(', ') : 'none yet'}`);
      const c = s.cache!;
      const answered = s.resolutions ? (100 * c.memoHits) / s.resolutions : 0;
      out.push(`  resolutions  ${s.resolutions} (${answered.toFixed(1)}% answered without JS; environment cache: ${(c.hitRate * 100).toFixed(1)}% hits, ${c.entries} processes, ${c.pendingExec} pending-exec, ${c.unreadable} unreadable, ${c.secure} secure-exec, ${c.otherUsersLinks} other users' links${c.shareRefused ? `, ${c.shareRefused} refused: their user had its share in flight` : ''})`);
      const d = Object.entries(s.defaults ?? {});
      out.push(`  defaults     ${d.length ? d.map(([k, v]) => `${k}=${v}`).join(' ') : 'none'}`);
      if (s.pendingExec !== undefined) out.push(`  pending exec ${formatPendingExec(s.pendingExec)}`);
      if (s.project !== undefined) out.push(`  project files ${formatProject(s.project)}`);
    }
    out.push(`  log          ${s.log}`);
  }
  return out.map(printable).join('\n') + '\n';
}
