import { pino, destination, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

const REDACT = ['req.headers.authorization', 'req.headers["x-registry-auth"]', 'req.headers["x-registry-config"]'];

/** JSON-lines logger to stderr (or a file descriptor). */
export function createLogger(level: LogLevel = 'info', dest: number = 2): Logger {
  return pino({ level, redact: REDACT, base: { pid: process.pid } }, destination({ dest, sync: true }));
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
