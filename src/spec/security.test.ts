import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import {
  DEFAULT_DEVICE_RULES, DOCKER_MASKED_PATHS, MOAT_MASKED_PATHS, RLIM_INFINITY, checkDeviceMapping, defaultSysctls,
  deviceCgroupRules, parseDevice, parseDeviceCgroupRule, parseSecurityOpts, parseUlimit, systemPaths, toOciJson,
  ulimitsToRlimits, validateSysctl, validateSysctls,
} from './security.js';
import type { LinuxDeviceCgroup } from './types.js';

const is400 = (re: RegExp) => (e: unknown): boolean => e instanceof EngineError && e.status === 400 && re.test(e.message);

test('systemPaths() defaults, privileged, unconfined and explicit lists', () => {
  const d = systemPaths();
  assert.deepEqual(d.maskedPaths, [...MOAT_MASKED_PATHS]);
  assert.ok(d.maskedPaths.includes('/proc/kcore') && d.maskedPaths.includes('/proc/interrupts'));
  assert.deepEqual(d.readonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
  assert.equal(d.sysReadOnly, true);
  assert.equal(DOCKER_MASKED_PATHS.length, 10);
  assert.deepEqual(systemPaths({ privileged: true }), { maskedPaths: [], readonlyPaths: [], sysReadOnly: false });
  assert.deepEqual(systemPaths({ systempathsUnconfined: true }), { maskedPaths: [], readonlyPaths: [], sysReadOnly: true });
  // the docker CLI sends [] for systempaths=unconfined
  assert.deepEqual(systemPaths({ maskedPaths: [], readonlyPaths: [] }).maskedPaths, []);
  assert.deepEqual(systemPaths({ maskedPaths: null, defaultMasked: DOCKER_MASKED_PATHS, extraMasked: ['/sys/devices/system/cpu/cpu0/thermal_throttle'] }).maskedPaths.length, 11);
});

function devicesList(rules: readonly LinuxDeviceCgroup[]): string[] {
  // emulate the v1 devices controller: deny all then apply allow rules in order
  const list = new Set<string>();
  for (const r of rules) {
    const key = `${r.type ?? 'a'} ${r.major ?? '*'}:${r.minor ?? '*'} ${r.access ?? 'rwm'}`;
    if (!r.allow) {
      if (r.type === undefined) list.clear();
      continue;
    }
    list.add(key);
  }
  return [...list].sort();
}

test('DEFAULT_DEVICE_RULES give the verified devices.list', () => {
  assert.deepEqual(devicesList(DEFAULT_DEVICE_RULES), [
    'b *:* m', 'c *:* m', 'c 1:3 rwm', 'c 1:5 rwm', 'c 1:7 rwm', 'c 1:8 rwm', 'c 1:9 rwm',
    'c 10:200 rwm', 'c 136:* rwm', 'c 5:0 rwm', 'c 5:1 rwm', 'c 5:2 rwm',
  ].sort());
  assert.deepEqual(DEFAULT_DEVICE_RULES[0], { allow: false, access: 'rwm' });
});

test('parseDevice() follows the docker CLI', () => {
  assert.deepEqual(parseDevice('/dev/null:/dev/mynull:rwm'), { PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rwm' });
  assert.deepEqual(parseDevice('/dev/sda'), { PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' });
  assert.deepEqual(parseDevice('/dev/sda:r'), { PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'r' });
  assert.deepEqual(parseDevice('/dev/sda:/dev/xvdc'), { PathOnHost: '/dev/sda', PathInContainer: '/dev/xvdc', CgroupPermissions: 'rwm' });
  assert.throws(() => parseDevice('/dev/a:/dev/b:rwx'), is400(/^bad mode specified: rwx$/));
  assert.throws(() => parseDevice('/a:/b:r:w'), is400(/^invalid device specification: \/a:\/b:r:w$/));
  assert.throws(() => parseDevice('dev/null'), is400(/^dev\/null is not an absolute path$/));
  assert.deepEqual(checkDeviceMapping({ PathOnHost: '/dev//null', PathInContainer: '', CgroupPermissions: '' }),
    { PathOnHost: '/dev/null', PathInContainer: '/dev/null', CgroupPermissions: 'rwm' });
});

test('parseDeviceCgroupRule() and deviceCgroupRules()', () => {
  assert.deepEqual(parseDeviceCgroupRule('c 1:3 rwm'), { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' });
  assert.deepEqual(parseDeviceCgroupRule('b 8:* r'), { allow: true, type: 'b', major: 8, access: 'r' });
  assert.deepEqual(parseDeviceCgroupRule('a *:* m'), { allow: true, type: 'a', access: 'm' });
  for (const bad of ['c 1:3', 'x 1:3 rwm', 'c 1:3 rwx', 'c -1:3 r', ' c 1:3 r', 'c 1:3 rwmr']) {
    assert.throws(() => parseDeviceCgroupRule(bad), is400(/^invalid device cgroup rule format: '/), bad);
  }
  const rules = deviceCgroupRules({ devices: [{ type: 'c', major: 10, minor: 229, permissions: 'rw' }], rules: ['c 42:* rmw'] });
  assert.equal(rules.length, DEFAULT_DEVICE_RULES.length + 2);
  assert.deepEqual(rules.at(-2), { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' });
  assert.deepEqual(deviceCgroupRules({ privileged: true, rules: ['c 1:1 r'] }), [{ allow: true, access: 'rwm' }]);
  assert.throws(() => deviceCgroupRules({ devices: [{ type: 'c', major: 1, minor: 1, permissions: 'x' }] }), is400(/bad mode/));
});

test('validateSysctl() allows namespaced sysctls and names the rejected one', () => {
  for (const k of ['kernel.msgmax', 'kernel.sem', 'kernel.shm_rmid_forced', 'fs.mqueue.msg_max', 'net.ipv4.ip_forward', 'kernel.domainname']) {
    assert.doesNotThrow(() => validateSysctl(k, '1', {}), k);
  }
  assert.doesNotThrow(() => validateSysctl('net.core.somaxconn', '1', { netMode: 'container:abc' }));
  assert.throws(() => validateSysctl('kernel.pid_max', '1000'), is400(/^sysctl "kernel.pid_max" is not in a separate kernel namespace$/));
  assert.throws(() => validateSysctl('net.ipv4.ip_forward', '1', { netMode: 'host' }), is400(/^sysctl "net.ipv4.ip_forward" not allowed in host network namespace$/));
  assert.throws(() => validateSysctl('kernel.shm_rmid_forced', '1', { ipcMode: 'host' }), is400(/^sysctl "kernel.shm_rmid_forced" is not allowed in the hosts ipc namespace$/));
  assert.throws(() => validateSysctl('kernel.domainname', 'x', { utsMode: 'host' }), is400(/not in a separate kernel namespace/));
  assert.throws(() => validateSysctl('kernel.hostname', 'x'), is400(/conflicts with the OCI "hostname" field/));
  assert.deepEqual(validateSysctls(null), {});
  assert.deepEqual(validateSysctls({ 'net.ipv4.ip_forward': '1' }), { 'net.ipv4.ip_forward': '1' });
});

test('defaultSysctls() sets ping_group_range only in an own network namespace', () => {
  assert.deepEqual(defaultSysctls({ netMode: 'default' }), { 'net.ipv4.ping_group_range': '0 2147483647' });
  assert.deepEqual(defaultSysctls({ netMode: 'none' }), { 'net.ipv4.ping_group_range': '0 2147483647' });
  assert.deepEqual(defaultSysctls({ netMode: 'host' }), {});
  assert.deepEqual(defaultSysctls({ netMode: 'container:x' }), {});
  assert.deepEqual(defaultSysctls({ netMode: 'bridge', userns: true }), {});
});

test('parseUlimit() and ulimitsToRlimits()', () => {
  assert.deepEqual(parseUlimit('nofile=1024:2048'), { Name: 'nofile', Soft: 1024, Hard: 2048 });
  assert.deepEqual(parseUlimit('nproc=100'), { Name: 'nproc', Soft: 100, Hard: 100 });
  assert.deepEqual(parseUlimit('core=-1'), { Name: 'core', Soft: -1, Hard: -1 });
  assert.deepEqual(parseUlimit('memlock=1024:-1'), { Name: 'memlock', Soft: 1024, Hard: -1 });
  assert.throws(() => parseUlimit('nofile=2048:1024'), is400(/^ulimit soft limit must be less than or equal to hard limit: 2048 > 1024$/));
  assert.throws(() => parseUlimit('nofile'), is400(/^invalid ulimit argument: nofile$/));
  assert.throws(() => parseUlimit('bogus=1'), is400(/^invalid ulimit type: bogus$/));
  assert.throws(() => parseUlimit('nofile=1:2:3'), is400(/too many limit value arguments/));
  assert.throws(() => parseUlimit('nofile=abc'), is400(/invalid syntax/));
  const r = ulimitsToRlimits([{ Name: 'nofile', Soft: 1024, Hard: 2048 }, { Name: 'core', Soft: -1, Hard: -1 }],
    { defaults: [{ Name: 'nofile', Soft: 1, Hard: 1 }, { Name: 'nproc', Soft: 5, Hard: 5 }] });
  assert.deepEqual(r, [
    { type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 },
    { type: 'RLIMIT_NPROC', soft: 5, hard: 5 },
    { type: 'RLIMIT_CORE', soft: RLIM_INFINITY, hard: RLIM_INFINITY },
  ]);
  assert.deepEqual(ulimitsToRlimits(null), []);
  assert.throws(() => ulimitsToRlimits([{ Name: 'nofile', Soft: 10, Hard: 5 }]), is400(/soft limit/));
  assert.throws(() => ulimitsToRlimits([{ Name: 'fds', Soft: 1, Hard: 1 }]), is400(/invalid ulimit type: fds/));
});

test('toOciJson() writes RLIM_INFINITY as a bare u64', () => {
  const text = toOciJson({ rlimits: [{ type: 'RLIMIT_CORE', soft: RLIM_INFINITY, hard: 5 }], s: 'bigint:1' });
  assert.equal(text, '{"rlimits":[{"type":"RLIMIT_CORE","soft":18446744073709551615,"hard":5}],"s":"bigint:1"}');
});

test('parseSecurityOpts() accepts = and : like dockerd', () => {
  assert.deepEqual(parseSecurityOpts(null), { seccompAllow: [], seccompDeny: [] });
  assert.equal(parseSecurityOpts(['no-new-privileges']).noNewPrivileges, true);
  assert.equal(parseSecurityOpts(['no-new-privileges=true']).noNewPrivileges, true);
  assert.equal(parseSecurityOpts(['no-new-privileges:true']).noNewPrivileges, true);
  assert.equal(parseSecurityOpts(['no-new-privileges:false']).noNewPrivileges, false);
  assert.deepEqual(parseSecurityOpts(['seccomp=unconfined']).seccomp, { kind: 'unconfined' });
  assert.deepEqual(parseSecurityOpts(['seccomp:builtin']).seccomp, { kind: 'builtin' });
  const json = '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}';
  assert.deepEqual(parseSecurityOpts([`seccomp=${json}`]).seccomp, { kind: 'profile', json });
  assert.deepEqual(parseSecurityOpts(['label=disable', 'label:user:U', 'disable']).label, ['disable', 'user:U', 'disable']);
  assert.equal(parseSecurityOpts(['apparmor=unconfined']).apparmor, 'unconfined');
  assert.equal(parseSecurityOpts(['systempaths=unconfined']).systempathsUnconfined, true);
  const ext = parseSecurityOpts(['seccomp-allow=mount,umount2', 'seccomp-deny=ptrace']);
  assert.deepEqual([ext.seccompAllow, ext.seccompDeny], [['mount', 'umount2'], ['ptrace']]);
});

test('parseSecurityOpts() rejects bad options with dockerd wording', () => {
  assert.throws(() => parseSecurityOpts(['bogus']), is400(/^invalid --security-opt 1: "bogus"$/));
  assert.throws(() => parseSecurityOpts(['foo=bar']), is400(/^invalid --security-opt 2: "foo=bar"$/));
  assert.throws(() => parseSecurityOpts(['no-new-privileges=maybe']), is400(/^invalid --security-opt 2: "no-new-privileges=maybe"$/));
  assert.throws(() => parseSecurityOpts(['systempaths=confined']), is400(/invalid --security-opt 2/));
  assert.throws(() => parseSecurityOpts(['seccomp=/etc/profile.json']), is400(/Decoding seccomp profile failed/));
  assert.throws(() => parseSecurityOpts(['seccomp-allow=']), is400(/invalid --security-opt 2/));
  assert.throws(() => parseSecurityOpts(['seccomp-deny=Bad!']), is400(/invalid --security-opt 2/));
});
