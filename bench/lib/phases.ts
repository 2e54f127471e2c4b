// moatd's debug log: one `started` and one `exited` line per container, each with the
// milliseconds of its phases (src/engine: PhaseTimer). The bench reads them for its phase table.
import { readFileSync } from 'node:fs';
import { stats, type Stats } from './host.js';
import type { PhaseResult } from './report.js';

/** Medians of the `phases` of moatd's `started` and `exited` debug lines written after byte `from`. */
export function phasesFrom(file: string, from: number): PhaseResult | undefined {
  return phasesOf(readFileSync(file).subarray(from).toString('utf8'));
}

/** The same from the log's text. */
export function phasesOf(text: string): PhaseResult | undefined {
  const start: Record<string, number[]> = {};
  const exit: Record<string, number[]> = {};
  const startTotal: number[] = [];
  const exitTotal: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let rec: { msg?: string; phases?: Record<string, number> };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue;
    }
    if (!rec.phases || (rec.msg !== 'started' && rec.msg !== 'exited')) continue;
    const into = rec.msg === 'started' ? start : exit;
    let total = 0;
    for (const [k, v] of Object.entries(rec.phases)) {
      (into[k] ??= []).push(v);
      total += v;
    }
    (rec.msg === 'started' ? startTotal : exitTotal).push(total);
  }
  if (startTotal.length === 0) return undefined;
  const med = (o: Record<string, number[]>): Record<string, Stats> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, stats(v)]));
  return { samples: startTotal.length, start: med(start), exit: med(exit), startTotal: stats(startTotal), exitTotal: stats(exitTotal) };
}

