import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MOAT_DEFAULT_CAPS } from '../caps/index.js';
import type { LinuxSeccomp } from '../seccomp/index.js';
import { planOf, type DaemonDefaults } from '../engine/plan.js';
import { runPlan } from '../engine/run-plan.js';
import type { RunPlan } from './generate.js';
import type { ContainerRecord } from '../engine/types.js';
import { standaloneRunPlan, standaloneSpec, DEFAULT_PIDS_LIMIT, DEFAULT_SHM_SIZE } from './standalone.js';

const seccomp: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] };

/** What moatd plans for a container whose HostConfig sets nothing, with the daemon's defaults. */
function moatdPlan(): RunPlan {
  const id = 'c'.repeat(64);
  const record: ContainerRecord = {
    Id: id, Name: '/probe', Created: new Date(0).toISOString(), Image: 'sha256:' + 'a'.repeat(64), Path: '/probe', Args: ['status'],
    Config: { Image: 'probe' }, HostConfig: {},
    State: { Status: 'created', Running: false, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: 0, Error: '', StartedAt: '', FinishedAt: '' },
    RestartCount: 0, ExitGeneration: 0,
  } as ContainerRecord;
  const defaults: DaemonDefaults = {
    capabilities: MOAT_DEFAULT_CAPS, bounding: MOAT_DEFAULT_CAPS, pidsLimit: DEFAULT_PIDS_LIMIT, noNewPrivileges: false,
    shmSize: DEFAULT_SHM_SIZE, cgroupParent: 'moat', defaultUlimits: [], userns: undefined, numCpus: 2,
  };
  return runPlan(record, planOf(record, defaults), {
    rootfs: '/rootfs', user: { uid: 0, gid: 0, additionalGids: [], home: '/root' }, env: ['PATH=/bin'], cwd: '/', etcMounts: [], mounts: [],
    devices: [], joined: {}, seccomp: { spec: seccomp, name: 'custom' },
  }, defaults);
}

test('standaloneRunPlan() makes the plan moatd makes for an empty HostConfig', () => {
  const moatd = moatdPlan();
  const ours = standaloneRunPlan({ rootfs: '/rootfs', args: ['/probe', 'status'], env: ['PATH=/bin'], capabilities: MOAT_DEFAULT_CAPS, seccomp, cgroupsPath: `moat/${'c'.repeat(64)}` });
  assert.deepEqual(ours, moatd);
});

test('standaloneSpec() lays the plan out with the real generator: masked paths, pids limit, caps, seccomp', () => {
  const spec = standaloneSpec({ rootfs: 'rootfs', args: ['/probe'], capabilities: ['CAP_KILL'], noNewPrivileges: true, seccomp, cgroupsPath: 'moat-test/abc', hostname: 'probe' });
  assert.equal(spec.hostname, 'probe');
  assert.deepEqual(spec.process?.capabilities, { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] });
  assert.equal(spec.process?.noNewPrivileges, true);
  assert.equal(spec.linux?.resources?.pids?.limit, DEFAULT_PIDS_LIMIT);
  assert.ok(spec.linux?.maskedPaths?.includes('/proc/kcore'));
  assert.deepEqual(spec.linux?.seccomp, seccomp);
  assert.equal(spec.linux?.cgroupsPath, 'moat-test/abc');
  assert.ok(spec.mounts?.some((m) => m.destination === '/dev/shm'));
  const unconfined = standaloneSpec({ rootfs: 'rootfs', args: ['/probe'], capabilities: [], cgroupsPath: 'moat-test/abc' });
  assert.equal(unconfined.linux?.seccomp, undefined, 'no seccomp section when none is given');
  assert.equal(unconfined.hostname, 'abc', 'hostname defaults to the short id');
});
