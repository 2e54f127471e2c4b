import { test } from 'node:test';
import assert from 'node:assert/strict';
import { directStateSupported, essentialRuncState, initExeced, initRunning, planDirectDelete, tryParseProcStat, tryParseRuncState, type RuncStateFile } from './runc-state.js';

const RUNC_115 = 'runc version 1.1.5\ncommit: v1.1.5-0-gf19387a6\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n';

test('only runc 1.1.x has its state read by moatd', () => {
  assert.equal(directStateSupported(RUNC_115), true);
  assert.equal(directStateSupported('runc version 1.1.12+dev\n'), true);
  for (const other of ['runc version 1.2.0\n', 'runc version 1.0.3\n', 'runc version 1.10.1\n', 'runc version 11.1.0\n', 'crun version 1.8\n', '', 'garbage']) {
    assert.equal(directStateSupported(other), false, other);
  }
});

const STAT = (name: string, state: string, start: number): string => `4242 (${name}) ${state} 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 ${start} 1000 10 18446744073709551615`;

test('proc stat: state and start time after the last parenthesis', () => {
  assert.deepEqual(tryParseProcStat(STAT('sh', 'S', 9001)), { state: 'S', startTime: 9001 });
  assert.deepEqual(tryParseProcStat(STAT('a) b (c', 'Z', 17)), { state: 'Z', startTime: 17 });
  assert.equal(tryParseProcStat('4242 no parens'), undefined);
  assert.equal(tryParseProcStat('4242 (sh) S 1'), undefined);
});

const state = (over: Partial<RuncStateFile> = {}): RuncStateFile => ({
  init_process_pid: 4242,
  init_process_start: 9001,
  cgroup_paths: { '': '/sys/fs/cgroup/unified/moat/c1', pids: '/sys/fs/cgroup/pids/moat/c1', cpu: '/sys/fs/cgroup/cpu,cpuacct/moat/c1', cpuacct: '/sys/fs/cgroup/cpu,cpuacct/moat/c1' },
  intel_rdt_path: '',
  config: { namespaces: [{ type: 'NEWPID', path: '' }, { type: 'NEWNS', path: '' }], Hooks: null, cgroups: { Systemd: false } },
  ...over,
});

test('init running: same pid start time, not a zombie', () => {
  assert.equal(initRunning(state(), STAT('sh', 'S', 9001)), true);
  assert.equal(initRunning(state(), STAT('sh', 'Z', 9001)), false, 'a zombie has exited');
  assert.equal(initRunning(state(), STAT('sh', 'S', 9002)), false, 'a reused pid is another process');
  assert.equal(initRunning(state(), undefined), false, 'no such pid');
});

test('state.json: the fields moatd relies on must be there', () => {
  assert.equal(tryParseRuncState(JSON.stringify(state()))?.init_process_pid, 4242);
  assert.equal(tryParseRuncState('{'), undefined);
  assert.equal(tryParseRuncState('null'), undefined);
  assert.equal(tryParseRuncState(JSON.stringify({ ...state(), init_process_pid: 0 })), undefined);
  assert.equal(tryParseRuncState(JSON.stringify({ ...state(), init_process_start: '9001' })), undefined);
});

test('direct delete: the cgroup dirs of a container with its own pid namespace, once each', () => {
  assert.deepEqual(planDirectDelete(state()), ['/sys/fs/cgroup/unified/moat/c1', '/sys/fs/cgroup/pids/moat/c1', '/sys/fs/cgroup/cpu,cpuacct/moat/c1']);
});

test('direct delete: runc does it when it would do more than remove dirs', () => {
  const cases: Array<[string, RuncStateFile]> = [
    ['host pid namespace (processes may outlive the init)', state({ config: { namespaces: [{ type: 'NEWNS', path: '' }] } })],
    ['joined pid namespace', state({ config: { namespaces: [{ type: 'NEWPID', path: '/proc/1/ns/pid' }] } })],
    ['poststop hooks', state({ config: { namespaces: [{ type: 'NEWPID', path: '' }], Hooks: { poststop: [{ path: '/bin/true' }] } } })],
    ['systemd cgroups', state({ config: { namespaces: [{ type: 'NEWPID', path: '' }], cgroups: { Systemd: true } } })],
    ['intel rdt', state({ intel_rdt_path: '/sys/fs/resctrl/c1' })],
    ['no config', (({ config: _c, ...rest }) => rest)(state())],
    ['a cgroup path outside the cgroup fs', state({ cgroup_paths: { pids: '/etc' } })],
    ['a path going up', state({ cgroup_paths: { pids: '/sys/fs/cgroup/pids/../../../etc' } })],
  ];
  for (const [why, s] of cases) assert.equal(planDirectDelete(s), undefined, why);
});

test('essentialRuncState keeps what the plans read, gives the same answers, and drops the rest of the config', () => {
  const cases: RuncStateFile[] = [
    state(),
    state({ config: { namespaces: [{ type: 'NEWPID', path: '/proc/1/ns/pid' }] } }),
    state({ config: { namespaces: [{ type: 'NEWPID', path: '' }], Hooks: { poststop: [{ path: '/bin/true' }] } } }),
    state({ config: { namespaces: [{ type: 'NEWPID', path: '' }], cgroups: { Systemd: true } } }),
    state({ config: { namespaces: [{ type: 'NEWPID', path: '' }], cgroups: null } }),
    state({ intel_rdt_path: '/sys/fs/resctrl/c1' }),
    (({ config: _c, ...rest }) => rest)(state()),
  ];
  for (const full of cases) {
    const big = JSON.parse(JSON.stringify({ ...full, ...(full.config ? { config: { ...full.config, seccomp: { syscalls: new Array(500).fill({ names: ['read'], action: 'SCMP_ACT_ALLOW' }) }, mounts: [{ source: 'proc' }] } } : {}) })) as RuncStateFile;
    const kept = essentialRuncState(big);
    assert.deepEqual(planDirectDelete(kept), planDirectDelete(full), JSON.stringify(full.config));
    assert.equal(initRunning(kept, STAT('sh', 'S', 9001)), initRunning(full, STAT('sh', 'S', 9001)));
    assert.ok(JSON.stringify(kept).length < 600, `small: ${JSON.stringify(kept).length} bytes`);
    assert.equal((kept.config as Record<string, unknown> | undefined)?.['seccomp'], undefined);
  }
});

test('initExeced: runc 1.1\'s init keeps its own name until it execs the container\'s process', () => {
  assert.equal(initExeced(STAT('runc:[2:INIT]', 'S', 5)), false);
  assert.equal(initExeced(STAT('sleep', 'S', 5)), true);
  assert.equal(initExeced(STAT('a) b (c', 'S', 5)), true, 'a name with parentheses is read up to the last one');
  assert.equal(initExeced(undefined), false, 'a process that is gone is not a started one');
  assert.equal(initExeced('4242 no parens'), false);
});
