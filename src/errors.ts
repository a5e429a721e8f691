// Errors a user sees: one line, never a stack trace.
import { constants } from 'node:os';

/** An error whose message is fit to print as the single `Error: …` line of the CLI. */
export class VarsymfsError extends Error {
  /** The process exit code the CLI uses for it. */
  readonly exitCode: number;
  constructor(message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, { cause: options.cause });
    this.name = 'VarsymfsError';
    this.exitCode = options.exitCode ?? 1;
  }
}

const errnoByCode = constants.errno as Readonly<Record<string, number>>;

/**
 * The negative errno a FUSE reply carries for an error from Node's fs (err.errno is already negative on
 * Linux), a native helper (a negative number), or anything else (EIO, and the caller logs it).
 */
export function toErrno(err: unknown): number {
  if (typeof err === 'number') return err <= 0 ? err : -err;
  if (err && typeof err === 'object') {
    const e = err as { errno?: unknown; code?: unknown };
    if (typeof e.errno === 'number' && e.errno < 0) return e.errno;
    if (typeof e.code === 'string' && errnoByCode[e.code] !== undefined) return -errnoByCode[e.code]!;
  }
  return -errnoByCode.EIO!;
}

/** True when an errno from toErrno is one that a passthrough expects (not worth logging). */
export function isExpectedErrno(errno: number): boolean {
  return errno !== -errnoByCode.EIO!;
}
