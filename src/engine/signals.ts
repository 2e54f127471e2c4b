// Signal names as the docker CLI sends them: `HUP`, `SIGHUP`, `1`, any case.
import { constants } from 'node:os';
import { invalid } from '../base/index.js';

const SIGNALS = constants.signals as Record<string, number>;

export function parseSignal(input: string | undefined, fallback: number): number {
  if (input === undefined || input === '') return fallback;
  if (/^\d+$/.test(input)) {
    const n = Number(input);
    if (n < 1 || n > 64) throw invalid(`Invalid signal: ${input}`);
    return n;
  }
  const upper = input.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (rt) return name.startsWith('SIGRTMIN') ? 34 + Number(rt[1] ?? 0) : 64 - Number(rt[1] ?? 0);
  const n = SIGNALS[name];
  if (n === undefined) throw invalid(`Invalid signal: ${input}`);
  return n;
}
