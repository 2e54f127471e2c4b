// Benchmark (not a test): what networking adds to `docker run --rm busybox true`, moatd and
// dockerd side by side in one interleaved run, each with and without its bridge. Run as root:
//   npx tsc -p tsconfig.json && node dist/bench/run-network.js
// moatd: its default bridge (netavark setup + teardown, icc off) vs `--network none`.
// dockerd: a bridge this bench makes (with iptables, as dockerd runs by default) vs
// `--network none`. Everything it adds (dockerd's bridge, its iptables chains and rules,
// moat's guard rules) is removed at the end: the iptables lines dockerd added are deleted
// by comparing iptables-save before and after. BENCH_ROUNDS (default 15). Then
// BENCH_PARALLEL_ROUNDS (default 3) rounds of BENCH_PARALLEL (default 20) `run --rm` at once
// per case, with one long-lived container on each bridge, and the machine's CPU per container.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { busyCpuMs, loadAverage, rotated, stats, unmountUnder } from './lib/host.js';
import { IMAGE, cli, findDocker, must, startDockerd, startMoatd, type Engine } from './lib/peers.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 15);
const PARALLEL = Number(process.env['BENCH_PARALLEL'] ?? 20);
const PARALLEL_ROUNDS = Number(process.env['BENCH_PARALLEL_ROUNDS'] ?? 3);

function iptablesLines(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let table = '';
  for (const line of execFileSync('iptables-save', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith('-A ') || line.startsWith(':')) out.set(`${table} ${line.replace(/ \[\d+:\d+\]$/, '')}`, [table, line]);
  }
  return out;
}

/** iptables-save's words back to argv (double quotes group, as it prints comments). */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** Delete the rules, then the chains, that appeared since `before` and name DOCKER or dockerd's bridge (dockerd leaves them at exit). */
function removeDockerRules(before: Map<string, string[]>, bridge: string, subnet: string): string[] {
  const problems: string[] = [];
  const added = [...iptablesLines()].filter(([k]) => !before.has(k) && (k.includes('DOCKER') || k.includes(bridge) || k.includes(subnet))).map(([, v]) => v);
  for (const [table, line] of added.filter(([, l]) => l!.startsWith('-A '))) {
    try {
      execFileSync('iptables', ['-t', table!, '-D', ...words(line!.slice(3))], { stdio: 'ignore' });
    } catch (err) {
      problems.push(`${table} ${line}: ${String(err)}`);
    }
  }
  for (const [table, line] of added.filter(([, l]) => l!.startsWith(':'))) {
    const chain = line!.slice(1).split(' ')[0]!;
    try {
      execFileSync('iptables', ['-t', table!, '-X', chain], { stdio: 'ignore' });
    } catch (err) {
      problems.push(`${table} chain ${chain}: ${String(err)}`);
    }
  }
  return problems;
}

/** moatd's debug lines (`started`, `exited`, `removed`, `network attached`, `network released`) from byte `from` of its log. */
function phaseLines(log: string, from: number): Array<{ msg: string; containerId: string; phases: Record<string, number> }> {
  const out: Array<{ msg: string; containerId: string; phases: Record<string, number> }> = [];
  for (const line of readFileSync(log).subarray(from).toString('utf8').split('\n')) {
    if (!line.includes('"phases"')) continue;
    try {
      const j = JSON.parse(line) as { msg?: string; containerId?: string; phases?: Record<string, number> };
      if (j.msg !== undefined && j.containerId !== undefined && j.phases !== undefined) out.push({ msg: j.msg, containerId: j.containerId, phases: j.phases });
    } catch {
      // a partial last line
    }
  }
  return out;
}

/** Median ms of each phase of moatd's start, network attach, exit, network release and removal, bridge vs none. */
function printPhases(log: string, from: number): void {
  const lines = phaseLines(log, from);
  const bridged = new Set(lines.filter((l) => l.msg === 'network attached').map((l) => l.containerId));
  for (const msg of ['started', 'network attached', 'exited', 'network released', 'removed']) {
    for (const onBridge of msg.startsWith('network') ? [true] : [true, false]) {
      const of = lines.filter((l) => l.msg === msg && bridged.has(l.containerId) === onBridge);
      if (of.length === 0) continue;
      const names = [...new Set(of.flatMap((l) => Object.keys(l.phases)))];
      const cells = names.map((n) => `${n} ${Math.round(stats(of.map((l) => l.phases[n] ?? 0)).median * 10) / 10}`);
      const total = Math.round(stats(of.map((l) => Object.values(l.phases).reduce((a, b) => a + b, 0))).median);
      console.log(`  ${(msg + (msg.startsWith('network') ? '' : onBridge ? ' (bridge)' : ' (none)')).padEnd(20)} total ${String(total).padStart(4)} ms: ${cells.join(', ')}`);
    }
  }
}

function makeRootfsTar(root: string): string {
  const dir = join(root, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  for (const a of ['sh', 'true']) symlinkSync('busybox', join(dir, 'bin', a));
  const tar = join(root, 'rootfs.tar');
  execFileSync('tar', ['-C', dir, '-cf', tar, '.']);
  return tar;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench: must run as root');
  const docker = findDocker();
  const root = mkdtempSync('/tmp/moat-netbench-');
  const before = iptablesLines();
  const bridge = `mtdk${randomBytes(3).toString('hex')}`;
  const stops: Array<() => Promise<void>> = [];
  const load = loadAverage();
  try {
    // dockerd's bridge: made here with a free /24, so dockerd never makes docker0.
    const third = randomBytes(1)[0]!;
    execFileSync('ip', ['link', 'add', bridge, 'type', 'bridge']);
    stops.push(async () => void execFileSync('ip', ['link', 'del', bridge]));
    execFileSync('ip', ['addr', 'add', `10.240.${third}.1/24`, 'dev', bridge]);
    execFileSync('ip', ['link', 'set', bridge, 'up']);
    const dockerd = await startDockerd(root, docker, { bridge });
    stops.push(async () => {
      await dockerd.stop();
      const problems = removeDockerRules(before, bridge, `10.240.${third}.0/24`);
      if (problems.length > 0) console.error(`cleanup: ${problems.join('\n')}`);
    });
    const moatd = await startMoatd(root, docker, { name: '', bridge: true });
    stops.push(() => moatd.stop());
    const tar = makeRootfsTar(root);
    for (const e of [dockerd, moatd]) await must(e, ['import', tar, IMAGE]);
    const cases: Array<{ e: Engine; label: string; flags: string[] }> = [
      { e: dockerd, label: 'dockerd bridge', flags: [] },
      { e: dockerd, label: 'dockerd none', flags: ['--network', 'none'] },
      { e: moatd, label: 'moatd bridge', flags: [] },
      { e: moatd, label: 'moatd none', flags: ['--network', 'none'] },
    ];
    // Warm-up: the bridges, chains and caches exist before anything is timed.
    for (const c of cases) for (let i = 0; i < 2; i++) await must(c.e, ['run', '--rm', ...c.flags, IMAGE, 'true']);
    console.log(`run --rm busybox true, ${ROUNDS} rounds interleaved, load average ${load.map((x) => x.toFixed(2)).join(' ')} at the start`);
    // First with nothing else on the bridges (netavark 1.4 deletes the bridge and its chains
    // with its last container and makes them again at the next start), then with one
    // long-lived container on each engine's bridge, as on a host that runs something.
    for (const keeper of [false, true]) {
      if (keeper) for (const e of [dockerd, moatd]) await must(e, ['run', '-d', '--name', 'bench-keeper', IMAGE, 'sh', '-c', 'while :; do sleep 1; done']);
      const times = new Map<string, number[]>(cases.map((c) => [c.label, []]));
      const logFrom = moatd.log !== undefined ? readFileSync(moatd.log).length : 0;
      for (let round = 0; round < ROUNDS; round++) {
        for (const c of rotated(cases, round)) {
          const r = await cli(c.e, ['run', '--rm', ...c.flags, IMAGE, 'true']);
          if (r.code !== 0) throw new Error(`${c.label}: exited ${r.code}: ${r.stderr}`);
          times.get(c.label)!.push(r.ms);
        }
      }
      const med = (label: string): number => stats(times.get(label)!).median;
      console.log(keeper ? '\nwith one other container on each bridge' : '\nnothing else on the bridges');
      console.log('case               median ms   p75 ms');
      for (const c of cases) {
        const st = stats(times.get(c.label)!);
        console.log(`${c.label.padEnd(18)} ${String(Math.round(st.median)).padStart(9)} ${String(Math.round(st.p75)).padStart(8)}`);
      }
      const moatAdded = med('moatd bridge') - med('moatd none');
      const dockerAdded = med('dockerd bridge') - med('dockerd none');
      console.log(`networking adds: moatd ${Math.round(moatAdded)} ms, dockerd ${Math.round(dockerAdded)} ms per run (goal: moatd <= 40 ms and <= dockerd)`);
      if (moatd.log !== undefined) {
        console.log("moatd's debug phases (median ms of each):");
        printPhases(moatd.log, logFrom);
      }
    }
    if (PARALLEL_ROUNDS > 0) {
      // Many at once on the bridge (the keepers still up): netavark's iptables processes
      // against dockerd's in-process netlink, both CPU-bound on the same cores.
      const wall = new Map<string, number[]>(cases.map((c) => [c.label, []]));
      const cpu = new Map<string, number[]>(cases.map((c) => [c.label, []]));
      for (let round = 0; round < PARALLEL_ROUNDS; round++) {
        for (const c of rotated(cases, round)) {
          const c0 = busyCpuMs();
          const t0 = performance.now();
          const rs = await Promise.all(Array.from({ length: PARALLEL }, () => cli(c.e, ['run', '--rm', ...c.flags, IMAGE, 'true'])));
          wall.get(c.label)!.push(performance.now() - t0);
          cpu.get(c.label)!.push((busyCpuMs() - c0) / PARALLEL);
          const bad = rs.find((r) => r.code !== 0);
          if (bad) throw new Error(`${c.label} (parallel): exited ${bad.code}: ${bad.stderr}`);
        }
      }
      console.log(`\n${PARALLEL} parallel run --rm, ${PARALLEL_ROUNDS} rounds, one other container on each bridge`);
      console.log('case               per s   machine CPU per container');
      for (const c of cases) {
        const perSec = (PARALLEL * 1000) / stats(wall.get(c.label)!).median;
        console.log(`${c.label.padEnd(18)} ${perSec.toFixed(1).padStart(5)}   ${Math.round(stats(cpu.get(c.label)!).median)} ms`);
      }
    }
    for (const e of [dockerd, moatd]) await must(e, ['rm', '-f', 'bench-keeper']);
    console.log(`load average ${loadAverage().map((x) => x.toFixed(2)).join(' ')} at the end`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
    unmountUnder(root);
    rmSync(root, { recursive: true, force: true });
  }
}

await main().catch((err: unknown) => {
  console.error(String((err as Error).stack ?? err));
  process.exitCode = 1;
});
