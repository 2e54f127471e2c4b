// The bench's own arithmetic: statistics, moatd's phase lines, targets, comparisons, memory
// with shared pages counted once. Pure except groupRssKb, which reads this process's /proc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuSpentMs, groupRssKb, processCpuMs, rssKb, stats } from './host.js';
import { phasesOf } from './phases.js';
import { compare, targetsOf, type BenchResult, type EngineResult } from './report.js';

test('stats() gives median, quartiles and range; an empty list gives NaN', () => {
  const s = stats([5, 1, 3, 2, 4]);
  assert.deepEqual(s, { n: 5, median: 3, min: 1, max: 5, p25: 2, p75: 4 });
  assert.equal(stats([1, 2]).median, 1.5);
  assert.ok(Number.isNaN(stats([]).median));
});

test('phasesOf() takes started/exited lines with phases and skips everything else', () => {
  const log = [
    '{"level":30,"msg":"listening"}',
    '{"level":20,"msg":"started","phases":{"mount":1,"create":50,"runc-start":9}}',
    'not json {',
    '{"level":20,"msg":"exited","exitCode":0,"phases":{"runc-delete":9,"remove":8}}',
    '{"level":20,"msg":"started","phases":{"mount":3,"create":60,"runc-start":11}}',
    '{"level":20,"msg":"exited","exitCode":0,"phases":{"runc-delete":11,"remove":10}}',
    '{"level":20,"msg":"other","phases":{"mount":100}}',
  ].join('\n');
  const p = phasesOf(log);
  assert.ok(p);
  assert.equal(p.samples, 2);
  assert.equal(p.start['mount']!.median, 2);
  assert.equal(p.start['create']!.median, 55);
  assert.equal(p.exit['remove']!.median, 9);
  assert.equal(p.startTotal.median, 67);
  assert.equal(p.exitTotal.median, 19);
});

test('phasesOf() splits the rest of each run around the start and exit lines, by their times', () => {
  const log = [
    '{"time":1100,"msg":"started","phases":{"create":50,"runc-start":10}}',
    '{"time":1150,"msg":"exited","phases":{"runc-delete":10,"remove":10}}',
  ].join('\n');
  const p = phasesOf(log, [{ t0: 1000, t1: 1170 }]);
  assert.deepEqual([p?.timeline?.beforeStart.median, p?.timeline?.between.median, p?.timeline?.afterExit.median], [40, 30, 20]);
  // Lines and runs that do not pair up give no timeline rather than a wrong one.
  assert.equal(phasesOf(log, [{ t0: 1000, t1: 1170 }, { t0: 1200, t1: 1300 }])?.timeline, undefined);
});

test('phasesOf() is undefined when no container started (no debug lines)', () => {
  assert.equal(phasesOf('{"level":30,"msg":"listening"}\n'), undefined);
  assert.equal(phasesOf(''), undefined);
});

const engine = (runMs: number, perSec: number, idleKb: number): EngineResult => ({
  describe: 'x',
  runMs: { n: 1, median: runMs, min: runMs, max: runMs, p25: runMs, p75: runMs },
  parallel: { wallMs: { n: 1, median: 1, min: 1, max: 1, p25: 1, p75: 1 }, perSec, machineCpuMsPerContainer: { n: 1, median: 1, min: 1, max: 1, p25: 1, p75: 1 } },
  idleRssKb: { fresh: idleKb, afterWork: idleKb, counted: '', afterWorkParts: {}, afterWorkShared1x: idleKb },
});

test('targetsOf() marks the issue 18 targets met only when the numbers reach them', () => {
  const met = targetsOf({ dockerd: engine(100, 10, 100_000), moatd: engine(60, 15, 50_000), podman: engine(70, 9, 0) });
  assert.ok(met.length >= 4);
  assert.ok(met.every((t) => t.met), JSON.stringify(met));
  const missed = targetsOf({ dockerd: engine(100, 10, 100_000), moatd: engine(61, 14.9, 50_001), podman: engine(61, 9, 0) });
  assert.ok(missed.every((t) => !t.met), JSON.stringify(missed));
});

test('compare() calls lower latency better and lower throughput worse', () => {
  const result = (e: Record<string, EngineResult>): BenchResult => ({
    schema: 1,
    date: 'd',
    host: { kernel: '', cpus: 2, node: '', dockerCli: '', loadBefore: [0], loadAfter: [0] },
    config: { runs: 1, parallel: 1, parallelRounds: 1, psContainers: 1, image: '' },
    engines: e,
    cliStartMs: {},
    phases: {},
    targets: [],
    notes: [],
  });
  const text = compare(result({ moatd: engine(100, 10, 1000) }), result({ moatd: engine(80, 8, 1000) }));
  assert.match(text, /moatd run --rm median +\| 100 ms +\| 80 ms +\| -20\.0 % +\| better/);
  assert.match(text, /moatd parallel +\| 10\.0 \/s +\| 8\.0 \/s +\| -20\.0 % +\| worse/);
});

test('groupRssKb() counts a process once however often it is named, and a gone pid as nothing', () => {
  const one = groupRssKb([process.pid]);
  assert.ok(one > 0);
  // Shared file pages are counted once: naming the same process twice adds only its anonymous memory again.
  const twice = groupRssKb([process.pid, process.pid]);
  assert.ok(twice < 2 * one, `${twice} should be below ${2 * one}`);
  assert.ok(one <= rssKb(process.pid) * 1.2);
  assert.equal(groupRssKb([2 ** 22 + 7]), 0);
});

test('cpuSpentMs: what each process spent between two samples; one started in between counts from zero', () => {
  const before = new Map([[10, 500], [11, 40]]);
  const after = new Map([[10, 530], [11, 40], [12, 15]]);
  assert.equal(cpuSpentMs(before, after), 45);
  assert.equal(cpuSpentMs(after, after), 0);
});

test('processCpuMs reads utime + stime of a live process and skips a gone one', () => {
  const m = processCpuMs([process.pid, 0x7ffffffe]);
  assert.equal(m.size, 1);
  assert.ok(m.get(process.pid)! >= 0);
});
