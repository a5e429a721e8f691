// The control channel: a unix socket per mount, owned by the user (directory 0700, socket 0600), that the
// CLI asks for status, mount defaults and explanations. One JSON request line, one JSON reply line.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { VarsymfsError } from './errors';
import type { ConfigJson } from './daemonconfig';
import type { PendingExecState } from './pendingexec';

export type Request =
  | { cmd: 'status' }
  | { cmd: 'defaults'; set?: Record<string, string>; unset?: string[] }
  | { cmd: 'resolve'; path: string; pid: number };

/** The counters of the caller table and the memo (native atomics). */
export interface CacheCounters {
  entries: number;
  lookups: number;
  hits: number;
  hitRate: number;
  memoHits: number;
  pendingExec: number;
  unreadable: number;
  secure: number;
  /** Resolutions of another user's link: the follower's environment not read. */
  otherUsersLinks: number;
  /** Resolutions refused (EAGAIN): their user already had its share of the daemon in flight. */
  shareRefused: number;
}

/** How pending exec is read (src/pendingexec.ts), with the helper's counters when it is used. */
export type PendingExecReport = PendingExecState & { helperStats?: { asked: number; answered: number; notInExec: number; refused: number; failed: number; started: number } };

/** What the daemon answers to each request, when it can. */
/** The project scope of a mount: on or off, the files it reads, and what it did. */
export interface ProjectReport {
  enabled: boolean;
  files: string[];
  /** Resolutions that walked the caller's directories (memo misses of project-independent answers). */
  walks: number;
  /** Resolutions in which a project file answered at least one reference. */
  answered: number;
  /** Walks given up after --project-timeout. */
  timedOut: number;
}

export interface Answers {
  status: {
    pid: number;
    mountPoint: string;
    source: string;
    startedAt: string;
    uptimeSeconds: number;
    requests: Record<string, number>;
    resolutions: number;
    inodes: number;
    cache: CacheCounters;
    defaults: Record<string, string>;
    pendingExec: PendingExecReport;
    project: ProjectReport;
    /** The daemon's configuration: the mount options as the CLI parsed them. */
    config: ConfigJson;
  };
  defaults: { defaults: Record<string, string> };
  resolve: {
    link: string;
    raw: string;
    target: string;
    pid: number;
    variant: boolean;
    environment: string;
    pendingExecCheck: string;
    /** Whose link it is and which rule applied (absent for a plain link). */
    linkOwner?: { rule: string; uid: number; follower: number };
    /** What the walk for the project files found. */
    projectFiles: string;
    /** Project files not trusted and values refused (docs/security.md), one line each. */
    skipped: Array<{ kind: 'skipped' | 'refused'; text: string }>;
    /** `file`: the project file and line that answered (or deferred to the mount defaults). */
    refs: Array<{ name: string; scope: string; value: string; file?: string; match?: { matched?: string; rule?: string; tried: readonly string[]; dir: string } }>;
  };
}

/** The reply to request `C`: its answer, or an error line. */
export type Reply<C extends Request['cmd'] = Request['cmd']> = { [K in C]: { ok: true } & Answers[K] }[C] | { ok: false; error: string };

export type Handler = (req: Request, reply: (r: Reply) => void) => void;

const MAX_LINE = 1 << 20;

/** Makes the socket directory ours and private, refusing one that another user could tamper with. */
function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== uid) throw new VarsymfsError(`${dir} is not a directory owned by this user; remove it and mount again`);
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
}

/** Refuses (like ssh-agent and tmux) a socket directory the CLI did not make private: any directory but this
 * user's own with mode 0700 could hold a socket another user listens on. An absent one has no daemon. */
export function checkSocketDir(dir: string, uid = process.getuid?.() ?? 0): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new VarsymfsError(`cannot check the control socket directory ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  if (st.isDirectory() && st.uid === uid && (st.mode & 0o777) === 0o700) return;
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  throw new VarsymfsError(`${dir} is not a directory of this user's with mode 0700 (it belongs to uid ${st.uid}, mode ${mode}); remove it, then mount again`);
}

/** Text from a daemon's reply as a terminal may show it: control characters (C0, DEL, C1) as \xHH. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A daemon's reply as JSON for a terminal: JSON escapes C0 controls itself; DEL and C1 become \\u00HH. */
export function printableJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(/[\x7f-\x9f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

/** Listens on `socket`, replacing a stale socket of a dead daemon. */
export async function serveControl(socket: string, handler: Handler): Promise<net.Server> {
  ensurePrivateDir(path.dirname(socket));
  if (fs.existsSync(socket)) {
    const live = await request(socket, { cmd: 'status' }, 1000).then(() => true, () => false);
    if (live) throw new VarsymfsError(`another daemon answers on ${socket}`);
    fs.rmSync(socket, { force: true });
  }
  const server = net.createServer((conn) => {
    let buf = '';
    conn.setEncoding('utf8');
    conn.on('error', () => {});
    conn.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE) return conn.destroy();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let req: Request;
      try {
        req = JSON.parse(buf.slice(0, nl)) as Request;
      } catch {
        conn.end(JSON.stringify({ ok: false, error: 'malformed request' }) + '\n');
        return;
      }
      try {
        handler(req, (r) => conn.end(JSON.stringify(r) + '\n'));
      } catch (err) {
        conn.end(JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) }) + '\n');
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });
  fs.chmodSync(socket, 0o600);
  server.unref();
  return server;
}

/** Sends one request; rejects with a VarsymfsError when nothing answers within `timeoutMs`. */
export function request<R extends Request>(socket: string, req: R, timeoutMs = 5000): Promise<Reply<R['cmd']>> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket);
    let buf = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new VarsymfsError(`the daemon did not answer on ${socket} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(JSON.stringify(req) + '\n'));
    conn.on('data', (d: string) => (buf += d));
    conn.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new VarsymfsError(`no daemon answers on ${socket} (${err.code ?? err.message})`, { cause: err }));
    });
    conn.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf) as Reply<R['cmd']>);
      } catch {
        reject(new VarsymfsError(`the daemon sent a malformed reply on ${socket}`));
      }
    });
  });
}
