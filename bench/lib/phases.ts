// moatd's debug log: one `started` and one `exited` line per container, each with the
// milliseconds of its phases (src/engine: PhaseTimer). The bench reads them for its phase table.
import { readFileSync } from 'node:fs';
import { stats, type Stats } from './host.js';
import type { PhaseResult } from './report.js';

/** Medians of the `phases` of moatd's `started` and `exited` debug lines written after byte `from`. */
export function phasesFrom(file: string, from: number, runs: readonly Span[] = []): PhaseResult | undefined {
  return phasesOf(readFileSync(file).subarray(from).toString('utf8'), runs);
}

/** Wall-clock (epoch ms) start and end of one `run --rm` CLI invocation. */
export interface Span {
  t0: number;
  t1: number;
}

/** The same from the log's text. */
export function phasesOf(text: string, runs: readonly Span[] = []): PhaseResult | undefined {
  const started: Array<{ time: number; total: number }> = [];
  const exited: Array<{ time: number; total: number }> = [];
  const start: Record<string, number[]> = {};
  const exit: Record<string, number[]> = {};
  const startTotal: number[] = [];
  const exitTotal: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let rec: { msg?: string; time?: number; phases?: Record<string, number> };
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
    if (typeof rec.time === 'number') (rec.msg === 'started' ? started : exited).push({ time: rec.time, total });
  }
  if (startTotal.length === 0) return undefined;
  const med = (o: Record<string, number[]>): Record<string, Stats> => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, stats(v)]));
  const out: PhaseResult = { samples: startTotal.length, start: med(start), exit: med(exit), startTotal: stats(startTotal), exitTotal: stats(exitTotal) };
  // The runs were one at a time, so the k-th started/exited lines belong to the k-th run.
  if (runs.length > 0 && started.length === runs.length && exited.length === runs.length) {
    out.timeline = {
      beforeStart: stats(runs.map((r, k) => started[k]!.time - started[k]!.total - r.t0)),
      between: stats(runs.map((_, k) => exited[k]!.time - exited[k]!.total - started[k]!.time)),
      afterExit: stats(runs.map((r, k) => r.t1 - exited[k]!.time)),
    };
  }
  return out;
}

