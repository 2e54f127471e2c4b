// `make bench`: moatd, dockerd 20.10 and Podman 4.3 side by side in one interleaved run, with
// the raw `runc run` of a bundle like moat's as the floor. dockerd and moatd are driven by the
// same docker CLI, Podman by its own; all import the same busybox rootfs tarball; everything
// they start is removed at the end. Not a test: it prints tables (run latency against dockerd,
// throughput, ps, memory, moat's start/exit phases from its debug log, the issue 18 targets)
// and writes them as JSON (bench/results/<date>.json, or $BENCH_JSON).
//
//   node dist/bench/engine.js                       run, print, write JSON
//   node dist/bench/engine.js --compare OLD.json    run, then compare with an earlier run
//   node dist/bench/engine.js --compare OLD NEW     compare two runs, no bench
//
// Environment: BENCH_RUNS (20), BENCH_PARALLEL (20), BENCH_PARALLEL_ROUNDS (3),
// BENCH_PS_CONTAINERS (50), BENCH_ENGINES (dockerd,moatd,podman,runc), BENCH_JSON (path),
// BENCH_MOATD_VARIANTS: a JSON list of extra moatds measured in the same run, e.g.
// '[{"name":"no-explain","args":["--no-seccomp-explain"]},{"name":"exp","bin":"/tmp/exp/bin/moatd"}]'.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus, release } from 'node:os';
import { join } from 'node:path';
import { REPO, busyCpuMs, cpuSpentMs, rotated, processCpuMs, firstLine, groupRssKb, loadAverage, roleOf, peakRssKb, rssKb, sleep, stats, timed, unmountUnder, type CliResult } from './lib/host.js';
import { IMAGE, findDocker, makeRuncFloor, must, startDockerd, startMoatd, startPodman, type Engine, type MoatdVariant, type RuncFloor } from './lib/peers.js';
import { compare, render, targetsOf, type BenchResult, type EngineResult, type PhaseResult } from './lib/report.js';
import { phasesFrom, type Span } from './lib/phases.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 20);
const PARALLEL = Number(process.env['BENCH_PARALLEL'] ?? 20);
const PARALLEL_ROUNDS = Number(process.env['BENCH_PARALLEL_ROUNDS'] ?? 3);
const PS_CONTAINERS = Number(process.env['BENCH_PS_CONTAINERS'] ?? 50);
const ENGINES = (process.env['BENCH_ENGINES'] ?? 'dockerd,moatd,podman,runc').split(',').map((s) => s.trim()).filter((s) => s !== '');
const VARIANTS = JSON.parse(process.env['BENCH_MOATD_VARIANTS'] ?? '[]') as MoatdVariant[];
/** `run --rm` after this long without a container (moatd's listener pair has exited by then). */
const COLD_IDLE_MS = 12_000;
const COLD_RUNS = Number(process.env['BENCH_COLD_RUNS'] ?? 3);

const say = (s: string): void => void process.stderr.write(`bench: ${s}\n`);

/** A busybox rootfs (directory and tarball): /bin/busybox plus the applet links the bench uses. */
function makeRootfs(root: string): { dir: string; tar: string } {
  const dir = join(root, 'rootfs');
  mkdirSync(join(dir, 'bin'), { recursive: true });
  for (const d of ['etc', 'tmp', 'proc', 'sys', 'dev']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  for (const a of ['sh', 'true', 'sleep', 'echo', 'cat', 'ls']) symlinkSync('busybox', join(dir, 'bin', a));
  const tar = join(root, 'rootfs.tar');
  execFileSync('tar', ['-C', dir, '-cf', tar, '.']);
  return { dir, tar };
}

const runArgs = (e: Engine, cmd: string[], detach = false): string[] => ['run', detach ? '-d' : '--rm', ...e.runFlags, IMAGE, ...cmd];

async function runOnce(p: Engine | RuncFloor): Promise<CliResult> {
  if ('runOnce' in p) {
    const r = await p.runOnce();
    if (r.code !== 0) throw new Error(`runc run exited ${r.code}: ${r.stderr.trim()}`);
    return r;
  }
  return await must(p, runArgs(p, ['true']));
}

/** The config.json moatd generated for a running busybox container (the floor's bundle). */
async function moatSpec(e: Engine): Promise<Record<string, unknown> | undefined> {
  const id = (await must(e, runArgs(e, ['sleep', '1000'], true))).stdout.trim();
  try {
    const file = join(e.containersDir!, id, 'config.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : undefined;
  } finally {
    await must(e, ['rm', '-f', id]);
  }
}

function logSize(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

const sumRss = (pids: number[]): number => pids.reduce((a, p) => a + rssKb(p), 0);

async function bench(root: string, docker: string): Promise<BenchResult> {
  const loadBefore = loadAverage();
  if (loadBefore[0]! > 3) say(`load average ${loadBefore[0]} > 3: other work on this machine will distort the numbers`);
  const rootfs = makeRootfs(root);
  const engines: Engine[] = [];
  let floor: RuncFloor | undefined;
  const stops: Array<() => Promise<void>> = [];
  try {
    say(`starting ${ENGINES.join(', ')}${VARIANTS.length ? ` and moatd variants ${VARIANTS.map((v) => v.name).join(', ')}` : ''} under ${root}`);
    for (const name of ENGINES) {
      if (name === 'runc') continue;
      const e = name === 'dockerd' ? await startDockerd(root, docker) : name === 'moatd' ? await startMoatd(root, docker) : name === 'podman' ? await startPodman(root) : undefined;
      if (!e) throw new Error(`BENCH_ENGINES: unknown engine ${name} (dockerd, moatd, podman, runc)`);
      engines.push(e);
      stops.push(() => e.stop());
    }
    for (const v of VARIANTS) {
      const e = await startMoatd(root, docker, v);
      engines.push(e);
      stops.push(() => e.stop());
    }
    for (const e of engines) await must(e, ['import', rootfs.tar, IMAGE]);
    await sleep(2000);
    const idleFresh = new Map(engines.map((e) => [e.key, sumRss(e.daemonPids())]));
    if (ENGINES.includes('runc')) {
      const m = engines.find((e) => e.key === 'moatd');
      floor = makeRuncFloor(root, rootfs.dir, m ? await moatSpec(m) : undefined);
      stops.push(() => floor!.stop());
    }
    const parts: Array<Engine | RuncFloor> = [...engines, ...(floor ? [floor] : [])];
    // Warm-up: first runs pay for caches (page cache, the listener's start, podman's storage checks).
    for (let i = 0; i < 2; i++) for (const p of parts) await runOnce(p);

    say(`run --rm true: ${RUNS} rounds over ${parts.map((p) => p.key).join(', ')}`);
    const logFrom = new Map(engines.filter((e) => e.log).map((e) => [e.key, logSize(e.log!)]));
    const lat = new Map<string, number[]>(parts.map((p) => [p.key, []]));
    const spans = new Map<string, Span[]>(parts.map((p) => [p.key, []]));
    for (let i = 0; i < RUNS; i++) {
      for (const p of rotated(parts, i)) {
        const t0 = Date.now();
        lat.get(p.key)!.push((await runOnce(p)).ms);
        spans.get(p.key)!.push({ t0, t1: Date.now() });
      }
    }
    await sleep(500);
    const phases: Record<string, PhaseResult> = {};
    for (const e of engines) {
      if (!e.log) continue;
      const ph = phasesFrom(e.log, logFrom.get(e.key)!, spans.get(e.key)!);
      if (ph) phases[e.key] = ph;
    }
    for (const p of parts) say(`  ${p.key}: median ${stats(lat.get(p.key)!).median} ms`);

    say('CLI costs: version round trips, CLI start, CLI peak RSS');
    const version = new Map<string, number[]>(engines.map((e) => [e.key, []]));
    const cliStart: Record<string, number[]> = { docker: [], ...(engines.some((e) => e.key === 'podman') ? { podman: [] } : {}) };
    for (let i = 0; i < 10; i++) {
      for (const e of rotated(engines, i)) version.get(e.key)!.push((await must(e, ['version'])).ms);
      cliStart['docker']!.push((await timed(docker, ['--version'], process.env)).ms);
      if (cliStart['podman']) cliStart['podman'].push((await timed('/usr/bin/podman', ['--version'], process.env)).ms);
    }
    const cliPeak = new Map<string, number | undefined>();
    for (const e of engines) {
      const xs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const kb = await peakRssKb(e.bin, [...e.globalFlags, ...runArgs(e, ['true'])], e.env);
        if (kb !== undefined) xs.push(kb);
      }
      cliPeak.set(e.key, xs.length ? stats(xs).median : undefined);
    }

    say(`${PARALLEL} parallel run --rm, ${PARALLEL_ROUNDS} rounds`);
    const wall = new Map<string, number[]>(parts.map((p) => [p.key, []]));
    const cpu = new Map<string, number[]>(parts.map((p) => [p.key, []]));
    const daemonCpu = new Map<string, number[]>(engines.map((e) => [e.key, []]));
    for (let round = 0; round < PARALLEL_ROUNDS; round++) {
      for (const p of rotated(parts, round)) {
        const daemon = engines.find((e) => e.key === p.key);
        const d0 = daemon ? processCpuMs(daemon.daemonPids()) : undefined;
        const c0 = busyCpuMs();
        const t0 = performance.now();
        await Promise.all(Array.from({ length: PARALLEL }, () => runOnce(p)));
        wall.get(p.key)!.push(performance.now() - t0);
        // The whole machine's busy time: the engine, its helpers, runc, the CLIs (and any other work).
        cpu.get(p.key)!.push((busyCpuMs() - c0) / PARALLEL);
        // The daemon's own share (moatd: its JS, syscalls and forks; dockerd: dockerd + containerd).
        if (daemon && d0) daemonCpu.get(p.key)!.push(cpuSpentMs(d0, processCpuMs(daemon.daemonPids())) / PARALLEL);
      }
    }
    for (const p of parts) say(`  ${p.key}: median round ${stats(wall.get(p.key)!).median} ms`);

    say(`ps with ${PS_CONTAINERS} containers, RSS per container`);
    const ps = new Map<string, number[]>();
    const perContainer = new Map<string, number>();
    for (const e of engines) {
      for (let i = 0; i < PS_CONTAINERS; i += 10) {
        await Promise.all(Array.from({ length: Math.min(10, PS_CONTAINERS - i) }, () => must(e, runArgs(e, ['sleep', '1000'], true))));
      }
      await sleep(1000);
      const helpers = e.helperPids();
      perContainer.set(e.key, (sumRss(helpers) + sumRss(e.sharedHelperPids())) / PS_CONTAINERS);
      const xs: number[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await must(e, ['ps', '-q']);
        const n = r.stdout.trim().split('\n').filter((x) => x !== '').length;
        if (n !== PS_CONTAINERS) throw new Error(`${e.key}: ps listed ${n} containers, want ${PS_CONTAINERS}`);
        xs.push(r.ms);
      }
      ps.set(e.key, xs);
      say(`  ${e.key}: ps median ${stats(xs).median} ms, ${helpers.length} helper processes`);
      const ids = (await must(e, ['ps', '-aq'])).stdout.trim().split('\n').filter((x) => x !== '');
      for (let i = 0; i < ids.length; i += 10) await must(e, ['rm', '-f', ...ids.slice(i, i + 10)]);
    }
    await sleep(3000);
    const idleAfter = new Map(engines.map((e) => [e.key, sumRss(e.daemonPids())]));
    const idleShared1x = new Map(engines.map((e) => [e.key, groupRssKb(e.daemonPids())]));
    const idleParts = new Map<string, Record<string, number>>();
    for (const e of engines) {
      const partsOf: Record<string, number> = {};
      for (const pid of e.daemonPids()) partsOf[roleOf(pid)] = (partsOf[roleOf(pid)] ?? 0) + rssKb(pid);
      idleParts.set(e.key, partsOf);
    }
    // Settled: moatd's listener pair exits after its idle grace (5 s, checked every 5 s) and
    // moatd gives its heap back once idle (5 s samples); the same wait for every engine.
    await sleep(12_000);
    const settled = new Map(engines.map((e) => [e.key, sumRss(e.daemonPids())]));
    const settledShared1x = new Map(engines.map((e) => [e.key, groupRssKb(e.daemonPids())]));
    const settledParts = new Map<string, Record<string, number>>();
    for (const e of engines) {
      const partsOf: Record<string, number> = {};
      for (const pid of e.daemonPids()) partsOf[roleOf(pid)] = (partsOf[roleOf(pid)] ?? 0) + rssKb(pid);
      settledParts.set(e.key, partsOf);
    }

    // The first run after an idle spell: the engine's own cost of waking up (moatd starts its
    // seccomp listener pair again). The first round follows the settled wait above.
    say(`run --rm after ${COLD_IDLE_MS / 1000} s idle, ${COLD_RUNS} rounds`);
    const cold = new Map<string, number[]>(engines.map((e) => [e.key, []]));
    // CPU of the shared helpers (moatd's listener pair) that this run started, read 1 s after
    // it (their start-up and the one container); none when they were already running.
    const helperStart = new Map<string, number[]>(engines.map((e) => [e.key, []]));
    for (let round = 0; round < COLD_RUNS; round++) {
      if (round > 0) await sleep(COLD_IDLE_MS);
      for (const e of rotated(engines, round)) {
        const before = new Set(e.sharedHelperPids());
        cold.get(e.key)!.push((await runOnce(e)).ms);
        await sleep(1000);
        const started = e.sharedHelperPids().filter((pid) => !before.has(pid));
        if (before.size === 0 && started.length > 0) helperStart.get(e.key)!.push([...processCpuMs(started).values()].reduce((a, b) => a + b, 0));
      }
    }
    for (const e of engines) {
      const h = helperStart.get(e.key)!;
      say(`  ${e.key}: median ${stats(cold.get(e.key)!).median} ms (${cold.get(e.key)!.join(' ')})${h.length > 0 ? `; helpers started: ${h.length} times, CPU median ${stats(h).median} ms (${h.join(' ')})` : ''}`);
    }

    const counted: Record<string, string> = {
      dockerd: 'dockerd + containerd',
      moatd: 'moatd + seccomp listener + its standby (they start with the first container that needs them and exit 5-10 s after the last one)',
      podman: 'no daemon: nothing runs between commands (0); see the CLI peak RSS',
    };
    const out: Record<string, EngineResult> = {};
    for (const p of parts) {
      const e = engines.find((x) => x.key === p.key);
      const w = stats(wall.get(p.key)!);
      out[p.key] = {
        describe: p.describe,
        runMs: stats(lat.get(p.key)!),
        parallel: { wallMs: w, perSec: Math.round(((PARALLEL * 1000) / w.median) * 10) / 10, machineCpuMsPerContainer: stats(cpu.get(p.key)!), ...(e ? { daemonCpuMsPerContainer: stats(daemonCpu.get(p.key)!) } : {}) },
        ...(e
          ? {
              psMs: stats(ps.get(e.key)!),
              idleRssKb: { fresh: idleFresh.get(e.key)!, afterWork: idleAfter.get(e.key)!, counted: counted[e.key.split(':')[0]!] ?? '', afterWorkParts: idleParts.get(e.key)!, afterWorkShared1x: idleShared1x.get(e.key)!, settled: settled.get(e.key)!, settledShared1x: settledShared1x.get(e.key)!, settledParts: settledParts.get(e.key)! },
              perContainerRssKb: Math.round(perContainer.get(e.key)!),
              ...(cliPeak.get(e.key) !== undefined ? { cliRunPeakRssKb: cliPeak.get(e.key)! } : {}),
              versionMs: stats(version.get(e.key)!),
              ...(COLD_RUNS > 0 ? { coldRunMs: stats(cold.get(e.key)!) } : {}),
              ...(helperStart.get(e.key)!.length > 0 ? { coldHelperStartCpuMs: stats(helperStart.get(e.key)!) } : {}),
            }
          : {}),
      };
    }
    const notes: string[] = [];
    if (loadBefore[0]! > 3) notes.push(`load average ${loadBefore[0]} at the start: numbers distorted by other work`);
    return {
      schema: 1,
      date: new Date().toISOString(),
      host: { kernel: release(), cpus: cpus().length, node: process.version, dockerCli: firstLine(docker, ['--version']), loadBefore, loadAfter: loadAverage() },
      config: { runs: RUNS, parallel: PARALLEL, parallelRounds: PARALLEL_ROUNDS, psContainers: PS_CONTAINERS, image: IMAGE },
      engines: out,
      cliStartMs: Object.fromEntries(Object.entries(cliStart).map(([k, v]) => [k, stats(v)])),
      phases,
      targets: targetsOf(out),
      notes,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => say(`cleanup: ${String(err)}`));
  }
}

function readResult(path: string): BenchResult {
  const r = JSON.parse(readFileSync(path, 'utf8')) as BenchResult;
  if (r.schema !== 1) throw new Error(`${path}: not a bench result (schema ${String(r.schema)})`);
  return r;
}

async function main(argv: string[]): Promise<void> {
  const ci = argv.indexOf('--compare');
  const oldPath = ci >= 0 ? argv[ci + 1] : undefined;
  if (ci >= 0 && oldPath === undefined) throw new Error('usage: engine.js [--compare OLD.json [NEW.json]]');
  const newPath = ci >= 0 ? argv[ci + 2] : undefined;
  if (oldPath !== undefined && newPath !== undefined) {
    console.log(compare(readResult(oldPath), readResult(newPath)));
    return;
  }
  const old = oldPath !== undefined ? readResult(oldPath) : undefined;
  if (process.getuid?.() !== 0) throw new Error('bench: must run as root');
  if (ENGINES.includes('dockerd') && !existsSync('/usr/sbin/dockerd')) throw new Error('bench: needs /usr/sbin/dockerd (Debian docker.io)');
  if (ENGINES.includes('podman') && !existsSync('/usr/bin/podman')) throw new Error('bench: needs /usr/bin/podman (Debian podman)');
  const docker = findDocker();
  const root = mkdtempSync('/tmp/moat-bench-');
  let result: BenchResult;
  try {
    result = await bench(root, docker);
  } finally {
    unmountUnder(root);
    rmSync(root, { recursive: true, force: true });
  }
  console.log(render(result));
  const path = process.env['BENCH_JSON'] ?? join(REPO, 'bench/results', `${result.date.slice(0, 16).replace(/:/g, '')}.json`);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify(result, null, 2) + '\n');
  say(`results written to ${path}`);
  if (old) console.log('\n' + compare(old, result));
}

await main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(String((err as Error).stack ?? err));
  process.exitCode = 1;
});
