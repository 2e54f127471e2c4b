// The idle-exit request moatd sends on the listener's socket (pure): one JSON line, answered
// with one word. A listener that does not know it (an older build) closes the connection
// without an answer, which moatd reads as "busy".
import { parseJsonObject } from '../base/index.js';

/** What moatd writes. */
export interface IdleExitRequest {
  readonly moatListener: 'exit-if-idle';
  /** The listener must have held no notify fd for this long. */
  readonly graceMs: number;
}

export const IDLE_EXIT_EXITING = 'exiting\n';
export const IDLE_EXIT_BUSY = 'busy\n';

/** The request's bytes. */
export function encodeIdleExitRequest(graceMs: number): Buffer {
  const r: IdleExitRequest = { moatListener: 'exit-if-idle', graceMs: Math.max(0, Math.floor(graceMs)) };
  return Buffer.from(JSON.stringify(r));
}

/** The request in a connection's text, or undefined when it is something else (runc's state). */
export function parseIdleExitRequest(text: string): { graceMs: number } | undefined {
  const v = parseJsonObject(text);
  if (v === undefined || v['moatListener'] !== 'exit-if-idle') return undefined;
  const g = v['graceMs'];
  return { graceMs: typeof g === 'number' && Number.isFinite(g) && g >= 0 ? g : 0 };
}

/** moatd's reading of the answer: only an explicit `exiting` means the pair is going. */
export function parseIdleExitAnswer(text: string): 'exiting' | 'busy' {
  return text === IDLE_EXIT_EXITING ? 'exiting' : 'busy';
}
