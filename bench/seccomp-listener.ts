// What a seccomp denial flood in two containers costs everyone else (issue 11, finding 7).
// Not a test: it prints numbers side by side. Run as root after a build:
//
//   node dist/bench/seccomp-listener.js            # BENCH_RUNS=10 BENCH_CLONE3_RUNS=3 BENCH_SCENARIOS=idle,flood-denied,flood-allowed,idle
//
// One moatd on temporary roots (test/helpers/daemon.ts), the built-in busybox image and the
// static probe (test/helpers/probe) bind-mounted read-only. Per scenario:
// - `docker run --rm busybox true`: wall time, median and p90 of BENCH_RUNS;
// - clone3 latency in a fresh container (`probe repeat 20000 clone3`, ns per call, median);
// - one more container's denial rate (`probe for 2000 keyctl`: answered calls per second);
// - CPU of the listener processes, of moatd and of the two flooding processes over
//   BENCH_QUIET_MS (3 s) while only the scenario's own containers run, % of one core.
// Scenarios: `idle`; `flood-denied`: two containers calling keyctl (a notify-denied syscall)
// in a loop; `flood-allowed`: two containers calling getppid in a loop (busy, no denials:
// the CPU-contention reference for a 2-core machine). Everything is removed at the end.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { startDaemon, type TestDaemon } from '../test/helpers/daemon.js';
import { buildProbe } from '../test/helpers/probe/index.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 10);
const CLONE3_RUNS = Number(process.env['BENCH_CLONE3_RUNS'] ?? 3);
const SCENARIOS = (process.env['BENCH_SCENARIOS'] ?? 'idle,flood-denied,flood-allowed,idle').split(',');
const QUIET_MS = Number(process.env['BENCH_QUIET_MS'] ?? 3000);
const DOCKER = '/usr/local/bin/docker';
const IMAGE = 'busybox:latest';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function docker(d: TestDaemon, args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    execFile(DOCKER, args, { env: { ...process.env, DOCKER_HOST: d.host }, timeout: timeoutMs }, (err, stdout, stderr) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
      resolve({ code, stdout, stderr, ms });
    });
  });
}

/** utime + stime of `pid` in clock ticks (100 Hz here), 0 when gone. */
function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** Listener processes of this daemon (active and standby): their argv names our exec root. */
function listenerPids(d: TestDaemon): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const cmd = readFileSync(`/proc/${n}/cmdline`, 'utf8');
      if (cmd.includes('seccomp-listener') && cmd.includes(d.execRoot)) out.push(Number(n));
    } catch {
      // gone
    }
  }
  return out;
}

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

interface Row {
  scenario: string;
  runMedianMs: number;
  runP90Ms: number;
  clone3Ns: number;
  probeRate: number;
  listenerCpu: number;
  moatdCpu: number;
  floodersCpu: number;
  load: string;
}

async function measure(d: TestDaemon, probeDir: string, scenario: string): Promise<Row> {
  const vol = ['-v', `${probeDir}:/p:ro`];
  const flooders: string[] = [];
  if (scenario === 'flood-denied' || scenario === 'flood-allowed') {
    const call = scenario === 'flood-denied' ? 'keyctl' : 'getppid';
    for (let i = 0; i < 2; i++) {
      const r = await docker(d, ['run', '-d', ...vol, IMAGE, '/p/probe', 'for', '0', call]);
      if (r.code !== 0) throw new Error(`flooder: ${r.stderr}`);
      flooders.push(r.stdout.trim());
    }
    await sleep(2000); // let the flood settle
  }
  // CPU over a quiet window: only the flooders run.
  const flooderPids: number[] = [];
  for (const id of flooders) {
    const r = await docker(d, ['inspect', '-f', '{{.State.Pid}}', id]);
    flooderPids.push(Number(r.stdout.trim()));
  }
  const cpuOver = async (ms: number): Promise<{ listener: number; moatd: number; flooders: number }> => {
    const t0 = Date.now();
    const ticks0 = new Map([...listenerPids(d), d.pid(), ...flooderPids].map((p) => [p, cpuTicks(p)]));
    await sleep(ms);
    const seconds = (Date.now() - t0) / 1000;
    let lticks = 0;
    for (const p of new Set([...listenerPids(d), ...ticks0.keys()])) if (p !== d.pid() && !flooderPids.includes(p)) lticks += cpuTicks(p) - (ticks0.get(p) ?? 0);
    const mticks = cpuTicks(d.pid()) - (ticks0.get(d.pid()) ?? 0);
    const fticks = flooderPids.reduce((sum, p) => sum + cpuTicks(p) - (ticks0.get(p) ?? 0), 0);
    return { listener: lticks / seconds, moatd: mticks / seconds, flooders: fticks / seconds }; // ticks are 1/100 s: % of a core
  };
  const cpu = await cpuOver(QUIET_MS);

  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await docker(d, ['run', '--rm', IMAGE, 'true']);
    if (r.code !== 0) throw new Error(`docker run: ${r.stderr}`);
    runs.push(r.ms);
  }
  const clone3: number[] = [];
  for (let i = 0; i < CLONE3_RUNS; i++) {
    const r = await docker(d, ['run', '--rm', ...vol, IMAGE, '/p/probe', 'repeat', '20000', 'clone3']);
    const m = /repeat \d+ ns_per_call (\d+)/.exec(r.stdout);
    if (r.code !== 0 || m === null) throw new Error(`clone3 probe: ${r.stdout} ${r.stderr}`);
    clone3.push(Number(m[1]));
  }
  const rate = await docker(d, ['run', '--rm', ...vol, IMAGE, '/p/probe', 'for', '2000', 'keyctl']);
  const rm = /for (\d+) ns_per_call (\d+)/.exec(rate.stdout);
  if (rate.code !== 0 || rm === null) throw new Error(`rate probe: ${rate.stdout} ${rate.stderr}`);

  for (const id of flooders) await docker(d, ['rm', '-f', id]);
  return {
    scenario,
    runMedianMs: quantile(runs, 0.5),
    runP90Ms: quantile(runs, 0.9),
    clone3Ns: quantile(clone3, 0.5),
    probeRate: Number(rm[1]) / 2,
    listenerCpu: cpu.listener,
    moatdCpu: cpu.moatd,
    floodersCpu: cpu.flooders,
    load: loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench: run as root');
  const probeDir = mkdtempSync('/tmp/moat-bench-probe-');
  chmodSync(probeDir, 0o755);
  copyFileSync(buildProbe(), join(probeDir, 'probe'));
  chmodSync(join(probeDir, 'probe'), 0o755);
  const d = await startDaemon();
  const rows: Row[] = [];
  try {
    // The first container starts the listener; warm the image and the caches.
    await docker(d, ['run', '--rm', IMAGE, 'true']);
    for (const s of SCENARIOS) rows.push(await measure(d, probeDir, s));
  } finally {
    await d.cleanup();
    rmSync(probeDir, { recursive: true, force: true });
  }
  const head = ['scenario', 'run median ms', 'run p90 ms', 'clone3 ns/call', 'keyctl calls/s', 'listener %cpu', 'moatd %cpu', 'flooders %cpu', 'loadavg'];
  const lines = rows.map((r) => [r.scenario, r.runMedianMs.toFixed(0), r.runP90Ms.toFixed(0), String(r.clone3Ns), r.probeRate.toFixed(0), r.listenerCpu.toFixed(1), r.moatdCpu.toFixed(1), r.floodersCpu.toFixed(1), r.load]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]): string => l.map((c, i) => c.padStart(widths[i]!)).join('  ');
  process.stdout.write(`${fmt(head)}\n${lines.map(fmt).join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
