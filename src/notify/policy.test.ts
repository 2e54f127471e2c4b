import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toNotifyProfile, defaultProfile, resolveProfile, syscallNumber, AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, type LinuxSeccomp } from '../seccomp/index.js';
import { decide, planRuleTable, tryParseRuleTable, archOfNotif, argsMatch, parseTaskStatus, recordKey, denialRecord, errnoName } from './policy.js';
import type { SeccompNotif } from './structs.js';

const resolved = resolveProfile(defaultProfile(), { arch: 'SCMP_ARCH_X86_64', capabilities: ['CAP_CHOWN', 'CAP_SYS_CHROOT'], kernel: '6.18.44' });
const conv = toNotifyProfile(resolved.seccomp, '/run/moat/seccomp.sock', { comments: resolved.origins.map((o) => o.comment) });
const table = planRuleTable({ rules: conv.table, arch: 'SCMP_ARCH_X86_64', seccomp: conv.seccomp });

const call = (name: string, args: bigint[] = [], arch = AUDIT_ARCH_X86_64): Pick<SeccompNotif, 'nr' | 'arch' | 'args'> => ({
  nr: syscallNumber(arch === AUDIT_ARCH_I386 ? 'SCMP_ARCH_X86' : 'SCMP_ARCH_X86_64', name)!,
  arch,
  args: [...args, 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6),
});

test('decide() answers the converted rule\'s errno and names the rule', () => {
  const d = decide(table, call('keyctl'));
  assert.equal(d.kind, 'deny');
  assert.ok(d.kind === 'deny');
  assert.equal(d.errno, 1);
  assert.equal(d.syscall, 'keyctl');
  assert.equal(d.reason, 'rule');
  assert.match(d.rule?.comment ?? '', /keyring/i);
  assert.equal(conv.seccomp.syscalls?.[d.rule!.index]?.action, 'SCMP_ACT_NOTIFY');
  // clone3 stays a plain ERRNO(ENOSYS) rule, so the table does not know it: should the kernel
  // still notify it (an older converted profile), the listener fails closed.
  const c3 = decide(table, call('clone3'));
  assert.ok(c3.kind === 'deny' && c3.reason === 'no-rule' && c3.errno === 1);
});

test('decide() tells same-name rules apart by their argument checks', () => {
  const vsock = decide(table, call('socket', [40n]));
  const alg = decide(table, call('socket', [38n]));
  assert.ok(vsock.kind === 'deny' && alg.kind === 'deny');
  assert.match(vsock.rule?.comment ?? '', /AF_VSOCK/);
  assert.match(alg.rule?.comment ?? '', /AF_ALG/);
  const newns = decide(table, call('clone', [0x20000n | 17n]));
  assert.ok(newns.kind === 'deny');
  assert.match(newns.rule?.comment ?? '', /CLONE_NEWNS/);
});

test('decide() on i386 finds the name in the i386 table', () => {
  const d = decide(table, call('keyctl', [], AUDIT_ARCH_I386));
  assert.ok(d.kind === 'deny');
  assert.equal(d.arch, 'SCMP_ARCH_X86');
  assert.equal(d.syscall, 'keyctl');
  assert.equal(d.reason, 'rule');
});

test('decide() fails closed with EPERM', () => {
  for (const [t, n, reason] of [
    [undefined, call('keyctl'), 'no-table'],
    [table, call('getpid'), 'no-rule'],
    [table, { nr: 1000, arch: AUDIT_ARCH_X86_64, args: [] }, 'unknown-syscall'],
    [table, { nr: 1, arch: 0x12345678, args: [] }, 'unknown-syscall'],
  ] as const) {
    const d = decide(t, n);
    assert.ok(d.kind === 'deny', reason);
    assert.equal(d.errno, 1, reason);
    assert.equal(d.reason, reason);
    assert.equal(d.rule, null);
  }
});

test('record mode continues every call', () => {
  const d = decide(planRuleTable({ rules: [], arch: 'SCMP_ARCH_X86_64', mode: 'record' }), call('mkdir'));
  assert.deepEqual(d, { kind: 'continue', syscall: 'mkdir', arch: 'SCMP_ARCH_X86_64' });
});

test('tryParseRuleTable() round-trips planRuleTable() and rejects bad files', () => {
  assert.deepEqual(tryParseRuleTable(JSON.parse(JSON.stringify(table))), table);
  assert.deepEqual(tryParseRuleTable({ mode: 'record', arch: 'SCMP_ARCH_X86_64' }), { mode: 'record', arch: 'SCMP_ARCH_X86_64' });
  assert.deepEqual(tryParseRuleTable({ rules: [{ index: 0, names: ['x'], errno: 1 }], arch: 'SCMP_ARCH_X86_64' })?.mode, 'enforce');
  for (const bad of [null, {}, { arch: 'SCMP_ARCH_NOPE', rules: [] }, { arch: 'SCMP_ARCH_X86_64', rules: [{ names: ['x'], errno: 1 }] }, { arch: 'SCMP_ARCH_X86_64', rules: [{ index: 0, names: ['x'], errno: 5000 }] }, { arch: 'SCMP_ARCH_X86_64', mode: 'other', rules: [] }]) {
    assert.equal(tryParseRuleTable(bad), undefined, JSON.stringify(bad));
  }
});

test('archOfNotif() maps AUDIT_ARCH and the x32 bit', () => {
  assert.equal(archOfNotif(AUDIT_ARCH_X86_64, 1), 'SCMP_ARCH_X86_64');
  assert.equal(archOfNotif(AUDIT_ARCH_X86_64, 0x40000001), 'SCMP_ARCH_X32');
  assert.equal(archOfNotif(AUDIT_ARCH_I386, 1), 'SCMP_ARCH_X86');
  assert.equal(archOfNotif(0xc00000b7, 1), 'SCMP_ARCH_AARCH64');
  assert.equal(archOfNotif(1, 1), undefined);
});

test('argsMatch() compares u64 (or the low 32 bits) like the filter', () => {
  const eq = [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' as const }];
  assert.ok(argsMatch(eq, [0xffffffffn], 64));
  assert.ok(!argsMatch(eq, [0x1ffffffffn], 64), '64-bit compare sees the upper half');
  assert.ok(argsMatch(eq, [0x1ffffffffn], 32), '32-bit compare does not');
  const masked = [{ index: 0, value: 2, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' as const }];
  assert.ok(argsMatch(masked, [0o20n], 64));
  assert.ok(!argsMatch(masked, [0o22n], 64));
  assert.ok(argsMatch([{ index: 1, value: 5, op: 'SCMP_CMP_LT' }, { index: 1, value: 2, op: 'SCMP_CMP_GE' }], [0n, 3n], 64), 'AND');
  assert.ok(argsMatch(undefined, [], 64));
});

test('parseTaskStatus() reads Name and the innermost NSpid', () => {
  assert.deepEqual(parseTaskStatus('Name:\tprobe\nUmask:\t0022\nNSpid:\t31822\t1\n'), { comm: 'probe', nspid: 1 });
  assert.deepEqual(parseTaskStatus(''), {});
});

test('recordKey() keeps arg0 for socket, personality and clone only', () => {
  assert.equal(recordKey('socket', 41, [2n]), 'socket/0x2');
  assert.equal(recordKey('mkdir', 83, [123n]), 'mkdir');
  assert.equal(recordKey(null, 1000, []), '#1000');
});

test('denialRecord() writes hex args and the errno name', () => {
  const n: SeccompNotif = { id: 1n, pid: 99, flags: 0, nr: 250, arch: AUDIT_ARCH_X86_64, ip: 0x10n, args: [0n, 0xfffffffffffffffdn, 0n, 0n, 0n, 0n] };
  const d = decide(table, n);
  assert.ok(d.kind === 'deny');
  const r = denialRecord({ containerId: 'c1', seq: 3, now: new Date(0), notif: n, decision: d, task: { comm: 'sh', nspid: 7 }, suppressed: 2 });
  assert.equal(r.time, '1970-01-01T00:00:00.000Z');
  assert.deepEqual(r.args.slice(0, 2), ['0x0', '0xfffffffffffffffd']);
  assert.equal(r.errnoName, 'EPERM');
  assert.equal(r.comm, 'sh');
  assert.equal(r.nspid, 7);
  assert.equal(r.suppressed, 2);
  assert.equal(errnoName(38), 'ENOSYS');
});

test('toNotifyProfile + planRuleTable keep the errno the plain profile returns, for every converted name', () => {
  const plain: LinuxSeccomp = resolved.seccomp;
  for (const rule of table.mode === 'enforce' ? table.rules : []) {
    for (const name of rule.names) {
      const errnos = new Set((plain.syscalls ?? []).filter((r) => r.action === 'SCMP_ACT_ERRNO' && r.names.includes(name)).map((r) => r.errnoRet ?? 1));
      assert.deepEqual([...errnos], [rule.errno], name);
    }
  }
});
