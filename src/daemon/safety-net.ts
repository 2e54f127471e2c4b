// The last line of defence: an error no code path caught is logged and moatd keeps serving.
// It is not how failures are handled (each stream and request handles its own); it keeps one
// missed case from ending the daemon for every client and container at once.
import type { EventEmitter } from 'node:events';
import { errorText, type Logger } from '../base/index.js';

/** What moatd counts, so a test or `moat doctor` can see that something slipped through. */
export interface SafetyNetCounts {
  uncaughtExceptions: number;
  unhandledRejections: number;
}

/**
 * Log uncaught exceptions and unhandled rejections instead of exiting.
 *
 * @example
 * installSafetyNet(process, log);
 */
export function installSafetyNet(proc: EventEmitter, log: Logger): SafetyNetCounts {
  const counts: SafetyNetCounts = { uncaughtExceptions: 0, unhandledRejections: 0 };
  const report = (what: string, err: unknown): void => {
    try {
      log.error({ err: errorText(err), code: (err as NodeJS.ErrnoException | undefined)?.code, stack: err instanceof Error ? err.stack : undefined }, `${what}: moatd keeps running`);
    } catch {
      // The log itself failed (stderr closed): nothing else to tell.
    }
  };
  proc.on('uncaughtException', (err: unknown) => {
    counts.uncaughtExceptions++;
    report('uncaught exception', err);
  });
  proc.on('unhandledRejection', (reason: unknown) => {
    counts.unhandledRejections++;
    report('unhandled rejection', reason);
  });
  return counts;
}
