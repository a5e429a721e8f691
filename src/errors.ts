// Errors a user sees: one line, never a stack trace.

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
