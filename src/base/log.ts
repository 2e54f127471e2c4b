import { createRequire } from 'node:module';
import type { Logger as PinoLogger, pino as PinoFactory, destination as PinoDestination } from 'pino';

export type Logger = PinoLogger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

const REDACT = ['req.headers.authorization', 'req.headers["x-registry-auth"]', 'req.headers["x-registry-config"]'];

// pino is loaded on first use: modules that only need errors or ids (helper programs,
// pure code) import base without paying for it.
interface PinoModule {
  pino: typeof PinoFactory;
  destination: typeof PinoDestination;
}
let mod: PinoModule | undefined;
function pinoModule(): PinoModule {
  mod ??= createRequire(import.meta.url)('pino') as PinoModule;
  return mod;
}

/**
 * Gives the logger a pino imported statically, for a program built as one bundle (the seccomp
 * listener, scripts/bundle-listener.mjs): a bundler cannot follow the lazy require above.
 */
export function usePino(m: PinoModule): void {
  mod = m;
}

/** JSON-lines logger to stderr (or a file descriptor). */
export function createLogger(level: LogLevel = 'info', dest: number = 2): Logger {
  const { pino, destination } = pinoModule();
  return pino({ level, redact: REDACT, base: { pid: process.pid } }, destination({ dest, sync: true }));
}

/** A logger that drops everything, for tests. */
export function silentLogger(): Logger {
  return pinoModule().pino({ level: 'silent' });
}
