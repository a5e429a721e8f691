// The operations JS answers. Every request runs first through the C hook (src/binding/ops.c) on the FUSE
// worker thread that received it, which answers it there: passthrough operations, and variant links whose
// expansion is in the memo. What reaches JS is a variant link the hook could not answer: getattr and
// readlink expand it (resolver.ts), whose answer C shapes into a reply in the slot (resolve.c), and send
// that through reply(), which answers every request exactly once.
// Any other operation reaching JS means the hook declined it, which it never does for a valid request:
// it is answered EIO and logged.
import * as fs from 'node:fs';
import { constants } from 'node:os';
import type { Logger } from './log';
import { decodeSlot, slotStat, slotTarget, type NativeHelpers } from './native';
import type { Resolution, Resolver } from './resolver';

const EIO = -constants.errno.EIO;

type Reply = (result: number, ...values: unknown[]) => void;

export interface OpsOptions {
  /** The request's locals buffer (caller context, then the hook's slot), valid while a handler starts. */
  readonly locals: () => Buffer;
  readonly resolver: Resolver;
  readonly native: NativeHelpers;
  readonly log: Logger;
}

const ENV_WORDS = { cached: 'environment (cached)', fresh: 'environment', exec: 'pending exec', unreadable: 'unreadable', secure: 'secure exec', linkOwner: 'not read: another user\'s link' } as const;

/** A one-line account of a resolution, for the debug log (names and targets decoded only for display). */
function describe(pid: number, comm: string, path: string, r: Resolution): string {
  const refs = (r.refs ?? []).map((x) => `${x.name}:${x.scope}${x.source !== undefined ? ` ${x.source}` : ''}`).join(' ');
  return `resolve pid=${pid} (${comm}) ${path} -> ${r.target?.toString() ?? `(${r.length} bytes: too long)`} [${refs}] env=${r.env === undefined ? 'not needed' : ENV_WORDS[r.env.source]}`;
}

/** Builds the operations table for fuse-native. */
export function createOps({ locals, resolver, native, log }: OpsOptions): Record<string, unknown> {
  const debug = log.enabled('debug');

  /** Wraps a handler: nothing it throws escapes, and it replies exactly once. */
  function op(name: string, fn: (reply: Reply, path: string) => void) {
    return (path: string, ...rest: unknown[]) => {
      const cb = rest.pop() as (...a: unknown[]) => void;
      let replied = false;
      const reply: Reply = (result, ...values) => {
        if (replied) return log.log('error', `${name}: second reply ignored (a bug)`);
        replied = true;
        cb(result, ...values);
      };
      try {
        fn(reply, path);
      } catch (err) {
        log.log('error', `${name}: ${err instanceof Error ? err.stack : String(err)}`);
        if (!replied) reply(EIO);
      }
    };
  }

  /**
   * Expands the link the hook passed on and calls `answer` with the reply's result (-errno, 0, or
   * readlink's length) and the locals holding the reply, at once or once the install directories it reaches
   * are listed; replies EIO itself when there is no link or the answer throws.
   */
  function passed(reply: Reply, name: string, path: string, answer: (result: number, l: Buffer) => void): void {
    const l = locals();
    // Released whatever happens, once: the slot's blocks, and the caller's share of the daemon with them.
    let released = false;
    const release = () => {
      if (!released) native.slotRelease(l);
      released = true;
    };
    const link = decodeSlot(native.layout, l);
    if (link === undefined) {
      release();
      log.log('error', `${name}: reached JS without a link to resolve (the hook declined it)`);
      reply(EIO);
      return;
    }
    try {
      // The request's worker thread waits for the reply, so its locals stay valid until then.
      resolver.resolve(link, l, (r, result) => {
        try {
          release();
          if (debug) {
            // The program's name: one more /proc read, off the reply's path, at debug level only.
            fs.readFile(`/proc/${link.pid}/comm`, 'utf8', (_e, comm) => log.log('debug', describe(link.pid, (comm ?? '?').trim(), path, r)));
          }
          answer(result, l);
        } catch (err) {
          log.log('error', `${name}: ${err instanceof Error ? err.stack : String(err)}`);
          reply(EIO);
        }
      });
    } catch (err) {
      release();
      throw err;
    }
  }

  const table: Record<string, unknown> = {
    init: (cb: (e: number) => void) => cb(0),
    getattr: op('getattr', (reply, path) => {
      passed(reply, 'getattr', path, (result, l) => (result < 0 ? reply(result) : reply(0, slotStat(native.layout, l))));
    }),
    readlink: op('readlink', (reply, path) => {
      passed(reply, 'readlink', path, (result, l) => (result < 0 ? reply(result) : reply(0, slotTarget(native.layout, l, result))));
    }),
  };
  // Every other operation is answered by the hook; libfuse must still know they exist. Not flush: its
  // absence answers the kernel's first FLUSH with ENOSYS, and the kernel sends no more (one request less
  // per close); nothing is buffered here to flush.
  for (const name of native.layout.ops) {
    if (name in table || name === 'error' || name === 'flush') continue;
    table[name] = op(name, (reply) => {
      log.log('error', `${name}: reached JS (the hook declined it)`);
      reply(EIO);
    });
  }
  return table;
}
