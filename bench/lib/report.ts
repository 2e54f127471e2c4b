// `make bench` results: the JSON written after each run, the tables printed from it, and the
// comparison of two runs (`--compare old.json [new.json]`).
import type { Stats } from './host.js';

export interface EngineResult {
  describe: string;
  /** `run --rm IMAGE true`, one at a time, wall ms. */
  runMs?: Stats;
  /** PARALLEL `run --rm` at once: wall ms per round and containers per second (from the median round). */
  parallel?: { wallMs: Stats; perSec: number; machineCpuMsPerContainer: Stats; daemonCpuMsPerContainer?: Stats };
  /** `ps -q` with psContainers running. */
  psMs?: Stats;
  /** Daemon (and what it keeps running) RSS: right after start and import, and after all the work once every container is gone. */
  idleRssKb?: {
    fresh: number;
    afterWork: number;
    counted: string;
    afterWorkParts: Record<string, number>;
    afterWorkShared1x: number;
    /** 15 s after the work (what moatd gives back once idle: the listener pair, the heap); older results lack it. */
    settled?: number;
    settledShared1x?: number;
    settledParts?: Record<string, number>;
  };
  /** (per-container helpers + shared helpers) / psContainers, with psContainers running. */
  perContainerRssKb?: number;
  /** Peak RSS of the CLI process of one `run --rm` (GNU time %M), median of 3. */
  cliRunPeakRssKb?: number;
  /** `docker version` (CLI start + one round trip) or `podman version` (no daemon to ask). */
  versionMs?: Stats;
  /** `run --rm` after 12 s without a container, wall ms (the engine waking up). */
  coldRunMs?: Stats;
  /** CPU (ms) of the shared helpers a cold run started (moatd's listener pair), 1 s after it. */
  coldHelperStartCpuMs?: Stats;
}

export interface PhaseResult {
  samples: number;
  start: Record<string, Stats>;
  exit: Record<string, Stats>;
  startTotal: Stats;
  exitTotal: Stats;
  /**
   * The rest of each `run --rm`, from the CLI's start/end and the log lines' times (ms
   * resolution): before the start began (CLI start, ping, create, attach, wait and start
   * requests), between start and exit handling (the reply, the container's life, conmon's exit
   * file, moatd noticing it), after the exit handling (wait's answer, the attach stream's end,
   * the CLI exiting).
   */
  timeline?: { beforeStart: Stats; between: Stats; afterExit: Stats };
}

export interface Target {
  name: string;
  value: number;
  target: string;
  met: boolean;
}

export interface BenchResult {
  schema: 1;
  date: string;
  host: { kernel: string; cpus: number; node: string; dockerCli: string; loadBefore: number[]; loadAfter: number[] };
  config: { runs: number; parallel: number; parallelRounds: number; psContainers: number; image: string };
  engines: Record<string, EngineResult>;
  /** CLI start alone, no daemon: `docker --version`, `podman --version`. */
  cliStartMs: Record<string, Stats>;
  phases: Record<string, PhaseResult>;
  targets: Target[];
  notes: string[];
}

const ms = (v: number | undefined, digits = 0): string => (v === undefined || Number.isNaN(v) ? '—' : `${v.toFixed(digits)} ms`);
const mib = (kb: number | undefined): string => (kb === undefined ? '—' : `${(kb / 1024).toFixed(1)} MiB`);
const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || b === 0 || Number.isNaN(a) || Number.isNaN(b) ? '—' : `${(a / b).toFixed(2)}`);

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** The table: run --rm latency per engine against dockerd, then the other measures, phases, targets. */
export function render(r: BenchResult): string {
  const out: string[] = [];
  const d = r.engines['dockerd'];
  const keys = Object.keys(r.engines);
  out.push(`\`run --rm ${r.config.image} true\`, one at a time, ${r.config.runs} runs per engine, interleaved (${r.date}, load ${r.host.loadBefore.join(' ')} before, ${r.host.loadAfter.join(' ')} after)`);
  out.push('');
  const runRows = keys
    .filter((k) => r.engines[k]!.runMs)
    .map((k) => {
      const e = r.engines[k]!;
      return [k, ms(e.runMs!.median), `${e.runMs!.p25.toFixed(0)}–${e.runMs!.p75.toFixed(0)}`, `${e.runMs!.min.toFixed(0)}–${e.runMs!.max.toFixed(0)}`, ratio(e.runMs!.median, d?.runMs?.median)];
    });
  out.push(table(['engine', 'median', 'p25–p75 ms', 'min–max ms', '/ dockerd'], runRows));
  out.push('');
  for (const k of keys) out.push(`- ${k}: ${r.engines[k]!.describe}`);
  out.push('');
  const engineKeys = keys.filter((k) => k !== 'runc');
  const rows: string[][] = [
    [`${r.config.parallel} parallel run --rm, per s (median of ${r.config.parallelRounds})`, ...keys.map((k) => (r.engines[k]!.parallel ? r.engines[k]!.parallel!.perSec.toFixed(1) : '—'))],
    ['machine CPU per container in those rounds', ...keys.map((k) => ms(r.engines[k]!.parallel?.machineCpuMsPerContainer.median))],
    ['  of it the daemon (utime + stime of the idle-RSS processes)', ...keys.map((k) => ms(r.engines[k]!.parallel?.daemonCpuMsPerContainer?.median))],
    [`ps with ${r.config.psContainers} containers, median`, ...keys.map((k) => ms(r.engines[k]!.psMs?.median))],
    ['idle RSS after start', ...keys.map((k) => mib(r.engines[k]!.idleRssKb?.fresh))],
    ['idle RSS after the work', ...keys.map((k) => mib(r.engines[k]!.idleRssKb?.afterWork))],
    ['idle after the work, shared pages once', ...keys.map((k) => mib(r.engines[k]!.idleRssKb?.afterWorkShared1x))],
    ['idle 15 s after the work', ...keys.map((k) => mib(r.engines[k]!.idleRssKb?.settled))],
    ['same, shared pages once', ...keys.map((k) => mib(r.engines[k]!.idleRssKb?.settledShared1x))],
    ['RSS per running container', ...keys.map((k) => mib(r.engines[k]!.perContainerRssKb))],
    ['CLI peak RSS, one run --rm', ...keys.map((k) => mib(r.engines[k]!.cliRunPeakRssKb))],
    ['`version` (CLI + round trip), median', ...keys.map((k) => ms(r.engines[k]!.versionMs?.median))],
    ['`run --rm` after 12 s idle, median', ...keys.map((k) => ms(r.engines[k]!.coldRunMs?.median))],
    ['  CPU of the helpers it started (listener pair), median', ...keys.map((k) => ms(r.engines[k]!.coldHelperStartCpuMs?.median))],
  ];
  out.push(table(['measure', ...keys], rows));
  out.push('');
  out.push('Idle RSS counts: ' + engineKeys.map((k) => `${k}: ${r.engines[k]!.idleRssKb?.counted ?? '—'}`).join('; '));
  out.push('Idle RSS after the work, by process: ' + engineKeys.map((k) => `${k}: ${Object.entries(r.engines[k]!.idleRssKb?.afterWorkParts ?? {}).map(([n, kb]) => `${n} ${mib(kb)}`).join(' + ') || '—'}`).join('; '));
  out.push('Idle RSS 15 s after the work, by process: ' + engineKeys.map((k) => `${k}: ${Object.entries(r.engines[k]!.idleRssKb?.settledParts ?? {}).map(([n, kb]) => `${n} ${mib(kb)}`).join(' + ') || '—'}`).join('; '));
  if (Object.keys(r.cliStartMs).length > 0) out.push('CLI start alone (no daemon): ' + Object.entries(r.cliStartMs).map(([k, s]) => `${k} ${ms(s.median)}`).join(', '));
  for (const [k, p] of Object.entries(r.phases)) {
    out.push('');
    out.push(`${k} phases (debug log), medians of ${p.samples} starts and exits of the one-at-a-time runs:`);
    out.push('');
    const start = Object.entries(p.start).map(([n, s]) => [`start: ${n}`, ms(s.median, 1), `${s.p25.toFixed(1)}–${s.p75.toFixed(1)}`]);
    const exit = Object.entries(p.exit).map(([n, s]) => [`exit: ${n}`, ms(s.median, 1), `${s.p25.toFixed(1)}–${s.p75.toFixed(1)}`]);
    const run = r.engines[k]?.runMs?.median;
    const rest = run === undefined ? NaN : run - p.startTotal.median - p.exitTotal.median;
    out.push(table(['phase', 'median', 'p25–p75 ms'], [...start, ['start total', ms(p.startTotal.median, 1), `${p.startTotal.p25.toFixed(1)}–${p.startTotal.p75.toFixed(1)}`], ...exit, ['exit total', ms(p.exitTotal.median, 1), `${p.exitTotal.p25.toFixed(1)}–${p.exitTotal.p75.toFixed(1)}`], ...(p.timeline
        ? [
            ['before start (CLI, ping, create, attach, wait, start requests)', ms(p.timeline.beforeStart.median, 1), `${p.timeline.beforeStart.p25.toFixed(1)}–${p.timeline.beforeStart.p75.toFixed(1)}`],
            ['between (start reply, container life, exit noticed)', ms(p.timeline.between.median, 1), `${p.timeline.between.p25.toFixed(1)}–${p.timeline.between.p75.toFixed(1)}`],
            ['after exit handling (wait answer, attach end, CLI exit)', ms(p.timeline.afterExit.median, 1), `${p.timeline.afterExit.p25.toFixed(1)}–${p.timeline.afterExit.p75.toFixed(1)}`],
          ]
        : [['rest of run --rm (CLI, API, create, wait)', ms(rest), '']])]));
  }
  out.push('');
  out.push(table(['target', 'value', 'goal', 'met'], r.targets.map((t) => [t.name, t.value.toFixed(2), t.target, t.met ? 'yes' : 'no'])));
  for (const n of r.notes) out.push(`note: ${n}`);
  return out.join('\n');
}

export function targetsOf(engines: Record<string, EngineResult>): Target[] {
  const m = engines['moatd'];
  const d = engines['dockerd'];
  const p = engines['podman'];
  const out: Target[] = [];
  if (m?.runMs && d?.runMs) out.push({ name: 'run --rm: moatd / dockerd', value: m.runMs.median / d.runMs.median, target: '<= 0.60', met: m.runMs.median / d.runMs.median <= 0.6 });
  if (m?.runMs && p?.runMs) out.push({ name: 'run --rm: moatd / podman', value: m.runMs.median / p.runMs.median, target: '< 1.00', met: m.runMs.median < p.runMs.median });
  if (m?.parallel && d?.parallel) out.push({ name: 'parallel throughput: moatd / dockerd', value: m.parallel.perSec / d.parallel.perSec, target: '>= 1.50', met: m.parallel.perSec / d.parallel.perSec >= 1.5 });
  if (m?.idleRssKb && d?.idleRssKb) {
    out.push({ name: 'idle RSS after work: moatd (+listener pair) / dockerd + containerd', value: m.idleRssKb.afterWork / d.idleRssKb.afterWork, target: '<= 0.50', met: m.idleRssKb.afterWork / d.idleRssKb.afterWork <= 0.5 });
    const a = m.idleRssKb.afterWorkShared1x;
    const b = d.idleRssKb.afterWorkShared1x;
    if (a !== undefined && b !== undefined) out.push({ name: 'same, shared pages counted once', value: a / b, target: '<= 0.50', met: a / b <= 0.5 });
    const ms = m.idleRssKb.settled;
    const ds = d.idleRssKb.settled;
    if (ms !== undefined && ds !== undefined) out.push({ name: 'idle RSS 15 s after work: moatd / dockerd + containerd', value: ms / ds, target: '<= 0.50', met: ms / ds <= 0.5 });
    const m1 = m.idleRssKb.settledShared1x;
    const d1 = d.idleRssKb.settledShared1x;
    if (m1 !== undefined && d1 !== undefined) out.push({ name: 'same, shared pages counted once', value: m1 / d1, target: '<= 0.50', met: m1 / d1 <= 0.5 });
  }
  return out;
}

/** Old against new, metric by metric (lower is better except throughput). */
export function compare(oldR: BenchResult, newR: BenchResult): string {
  const rows: string[][] = [];
  const add = (name: string, a: number | undefined, b: number | undefined, unit: string, higherBetter = false): void => {
    if (a === undefined && b === undefined) return;
    const change = a !== undefined && b !== undefined && a !== 0 ? ((b - a) / a) * 100 : NaN;
    const better = Number.isNaN(change) ? '' : (higherBetter ? change > 0 : change < 0) ? 'better' : change === 0 ? '' : 'worse';
    const f = (v: number | undefined): string => (v === undefined ? '—' : unit === 'MiB' ? (v / 1024).toFixed(1) : v.toFixed(unit === '/s' || v < 20 ? 1 : 0));
    rows.push([name, `${f(a)} ${unit}`, `${f(b)} ${unit}`, Number.isNaN(change) ? '—' : `${change > 0 ? '+' : ''}${change.toFixed(1)} %`, better]);
  };
  for (const k of [...new Set([...Object.keys(oldR.engines), ...Object.keys(newR.engines)])]) {
    const a = oldR.engines[k];
    const b = newR.engines[k];
    add(`${k} run --rm median`, a?.runMs?.median, b?.runMs?.median, 'ms');
    add(`${k} run --rm after 12 s idle`, a?.coldRunMs?.median, b?.coldRunMs?.median, 'ms');
    add(`${k} helpers started by it, CPU`, a?.coldHelperStartCpuMs?.median, b?.coldHelperStartCpuMs?.median, 'ms');
    add(`${k} parallel`, a?.parallel?.perSec, b?.parallel?.perSec, '/s', true);
    add(`${k} ps median`, a?.psMs?.median, b?.psMs?.median, 'ms');
    add(`${k} idle RSS after work`, a?.idleRssKb?.afterWork, b?.idleRssKb?.afterWork, 'MiB');
    add(`${k} idle after work, shared once`, a?.idleRssKb?.afterWorkShared1x, b?.idleRssKb?.afterWorkShared1x, 'MiB');
    add(`${k} idle 15 s after work`, a?.idleRssKb?.settled, b?.idleRssKb?.settled, 'MiB');
    add(`${k} idle 15 s after work, shared once`, a?.idleRssKb?.settledShared1x, b?.idleRssKb?.settledShared1x, 'MiB');
    add(`${k} RSS per container`, a?.perContainerRssKb, b?.perContainerRssKb, 'MiB');
  }
  for (const k of [...new Set([...Object.keys(oldR.phases), ...Object.keys(newR.phases)])]) {
    const a = oldR.phases[k];
    const b = newR.phases[k];
    for (const part of ['start', 'exit'] as const) {
      for (const n of [...new Set([...Object.keys(a?.[part] ?? {}), ...Object.keys(b?.[part] ?? {})])]) add(`${k} ${part}: ${n}`, a?.[part][n]?.median, b?.[part][n]?.median, 'ms');
    }
    for (const n of ['beforeStart', 'between', 'afterExit'] as const) add(`${k} ${n}`, a?.timeline?.[n].median, b?.timeline?.[n].median, 'ms');
  }
  return [`old: ${oldR.date} (load ${oldR.host.loadBefore.join(' ')})`, `new: ${newR.date} (load ${newR.host.loadBefore.join(' ')})`, '', table(['measure', 'old', 'new', 'change', ''], rows)].join('\n');
}
