// A small leveled logger: one line per event, to the stream the daemon was given (stderr or its log file).
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const ORDER: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3 };
export const LOG_LEVELS = Object.keys(ORDER) as LogLevel[];

export interface Logger {
  readonly level: LogLevel;
  enabled(level: LogLevel): boolean;
  log(level: LogLevel, message: string): void;
}

/** A logger writing `time level message` lines with `write`. */
export function createLogger(level: LogLevel, write: (line: string) => void): Logger {
  const max = ORDER[level];
  return {
    level,
    enabled: (l) => ORDER[l] <= max,
    log(l, message) {
      if (ORDER[l] <= max) write(`${new Date().toISOString()} ${l} ${message}\n`);
    },
  };
}
