import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, compileSeccomp, defaultProfile, evaluateSeccomp, resolveProfile, runFilter, parseProfile,
  type Profile,
} from '../seccomp/index.js';
import {
  decide, diffProfiles, expectedOutcome, explainSyscall, lintProfile, parseProbeOutput, parseStrace, probeArg, probeCorpus,
  synthesizeProfile, tableResolver, UNSAFE_TO_EXECUTE,
} from './index.js';

const ctx = { capabilities: ['CAP_CHOWN', 'CAP_SYS_CHROOT'], kernel: '6.18.44' };
const codes = (issues: readonly { code: string }[]): string[] => issues.map((i) => i.code);

test('lint: parser errors keep their JSON paths', () => {
  const r = lintProfile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOPE' }] });
  assert.equal(r.errors.length, 1);
  assert.deepEqual(r.errors[0]!.path, ['syscalls', 0, 'action']);
});

test('lint: warnings for pointer args, dangerous allows, shadowed/duplicate rules, arches', () => {
  const r = lintProfile({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['openat'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 0, op: 'SCMP_CMP_EQ' }] },
      { names: ['keyctl', 'mount'], action: 'SCMP_ACT_ALLOW' },
      { names: ['bpf'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_BPF'] } },
      { names: ['getpid'], action: 'SCMP_ACT_ALLOW' },
      { names: ['getpid'], action: 'SCMP_ACT_TRAP' },
      { names: ['getppid'], action: 'SCMP_ACT_ALLOW' },
      { names: ['getppid'], action: 'SCMP_ACT_ALLOW' },
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }] },
      { names: ['socket'], action: 'SCMP_ACT_TRAP', args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }] },
      { names: ['chown32'], action: 'SCMP_ACT_ALLOW' },
      { names: ['read'], action: 'SCMP_ACT_ERRNO' },
    ],
  });
  assert.deepEqual(r.errors, []);
  const w = r.warnings;
  const at = (code: string): string[] => w.filter((x) => x.code === code).map((x) => x.path.join('.'));
  assert.deepEqual(at('missing_architectures'), ['']);
  assert.deepEqual(at('pointer_arg'), ['syscalls.0.args.0']);
  assert.equal(w.filter((x) => x.code === 'dangerous_allow' && x.path[1] === 1).length, 2, 'keyctl and mount');
  assert.equal(w.filter((x) => x.code === 'dangerous_allow' && x.path[1] === 2).length, 0, 'bpf gated by CAP_BPF');
  assert.deepEqual(at('shadowed_rule'), ['syscalls.4.names']);
  assert.deepEqual(at('duplicate_rule'), ['syscalls.6.names']);
  assert.deepEqual(at('conflicting_rule'), ['syscalls.8.args']);
  assert.deepEqual(at('same_as_default'), ['syscalls.10.action']);
  // chown32 exists on x86 only, no architectures: the host arch; with x86_64 listed it warns.
  const r2 = lintProfile({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names: ['chown32', 'read'], action: 'SCMP_ACT_ALLOW' }] });
  assert.ok(codes(r2.warnings).includes('syscall_not_on_arch'));
  assert.ok(r2.warnings.find((x) => x.code === 'syscall_not_on_arch')!.message.includes('chown32'));
  assert.ok(!r2.warnings.find((x) => x.code === 'syscall_not_on_arch')!.message.includes('read'));
});

test('lint: the default profile has no errors and no dangerous ungated allowance', () => {
  const r = lintProfile(JSON.parse(JSON.stringify(defaultProfile())));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings.filter((w) => w.code === 'dangerous_allow'), []);
});

test('decide() agrees with evaluateSeccomp and the compiled BPF on the default profile', () => {
  const { seccomp } = resolveProfile(defaultProfile(), { arch: 'SCMP_ARCH_X86_64', ...ctx });
  const prog = compileSeccomp(seccomp, { arch: 'SCMP_ARCH_X86_64', resolveNr: tableResolver, enosysStub: true });
  const argsList = [[], [38n], [39n], [0x20000n], [0xffffffffn], [0x1ffffffffn], [2n, 1n]];
  for (const arch of [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386]) {
    for (let nr = 0; nr < 480; nr++) {
      for (const args of argsList) {
        const data = { nr, arch, args };
        const d = decide(seccomp, data, 'SCMP_ARCH_X86_64', { enosysStub: true });
        const ref = evaluateSeccomp(seccomp, data, { arch: 'SCMP_ARCH_X86_64', resolveNr: tableResolver, enosysStub: true }) >>> 0;
        if (nr === 335 || nr === 336) continue; // uprobe exemption is the emulator's, not the profile's
        assert.equal(d.ret, ref, `nr ${nr} arch ${arch.toString(16)} args ${args.join(',')}`);
        assert.equal(runFilter(prog, data) >>> 0, ref, `bpf nr ${nr}`);
      }
    }
  }
});

test('issue 13: explain, the rule evaluator and the compiled BPF agree on runc\'s ENOSYS stub, with and without architectures', () => {
  // decide() used to skip the stub without `architectures` while the compiler and the
  // reference evaluator added it: explain then printed ERRNO(1) and a BPF verdict of ERRNO(38).
  const noArches: Profile = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['getpid', 'getppid', 'mkdir'], action: 'SCMP_ACT_ALLOW' }] };
  const stubCtx = { ...ctx, enosysStub: true };
  const without = explainSyscall(noArches, { arch: 'SCMP_ARCH_X86_64', syscall: 470 }, stubCtx);
  assert.equal(without.action, 'ERRNO(1)', 'runc 1.1.5 adds no stub when architectures is empty');
  assert.equal(without.decidedBy.kind, 'default');
  assert.equal(without.bpfRet, without.ret);
  const listed = explainSyscall({ ...noArches, architectures: ['SCMP_ARCH_X86_64'] }, { arch: 'SCMP_ARCH_X86_64', syscall: 470 }, stubCtx);
  assert.equal(listed.action, 'ERRNO(38)');
  assert.deepEqual(listed.decidedBy, { kind: 'enosys-stub', cutoff: 110 });
  assert.equal(listed.bpfRet, listed.ret);
  const below = explainSyscall({ ...noArches, architectures: ['SCMP_ARCH_X86_64'] }, { arch: 'SCMP_ARCH_X86_64', syscall: 100 }, stubCtx);
  assert.equal(below.action, 'ERRNO(1)', 'below the highest named number: the default');
  assert.equal(below.bpfRet, below.ret);
});

test('explain names the deciding rule by index and comment', () => {
  const p = defaultProfile();
  const e = explainSyscall(p, { arch: 'SCMP_ARCH_X86_64', syscall: 'socket', args: [38n] }, ctx);
  assert.equal(e.action, 'ERRNO(1)');
  assert.equal(e.errno, 1);
  assert.equal(e.decidedBy.kind, 'rule');
  assert.match(e.decidedBy.comment ?? '', /AF_ALG/);
  assert.deepEqual(p.syscalls[e.decidedBy.rule!]!.args, [{ index: 0, value: 38, op: 'SCMP_CMP_EQ' }]);
  assert.equal(e.bpfRet, e.ret);
  const ok = explainSyscall(p, { arch: 'SCMP_ARCH_X86_64', syscall: 'socket', args: [2n] }, ctx);
  assert.equal(ok.action, 'ALLOW');
  assert.equal(ok.decidedBy.kind, 'rule');
  assert.equal(p.syscalls[ok.decidedBy.rule!]!.names.includes('socket'), true);
  assert.equal(ok.decidedBy.comment, p.syscalls[ok.decidedBy.rule!]!.comment);
  const c3 = explainSyscall(p, { arch: 'SCMP_ARCH_X86_64', syscall: 'clone3' }, ctx);
  assert.equal(c3.action, 'ERRNO(38)');
  const admin = explainSyscall(p, { arch: 'SCMP_ARCH_X86_64', syscall: 'clone3' }, { ...ctx, capabilities: ['CAP_SYS_ADMIN'] });
  assert.equal(admin.action, 'ALLOW');
  const x86 = explainSyscall(p, { arch: 'SCMP_ARCH_X86', syscall: 'chown32' }, ctx);
  assert.equal(x86.action, 'ALLOW');
  const custom: Profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, comment: 'no dirs' }] };
  const m = explainSyscall(custom, { arch: 'SCMP_ARCH_X86_64', syscall: 83 }, ctx);
  assert.deepEqual([m.action, m.errno, m.decidedBy.rule, m.decidedBy.comment, m.query.syscall], ['ERRNO(13)', 13, 0, 'no dirs', 'mkdir']);
  const bad = explainSyscall(custom, { arch: 'SCMP_ARCH_X86', syscall: 'mkdir' }, ctx);
  assert.deepEqual([bad.action, bad.decidedBy.kind], ['KILL_THREAD', 'bad-arch']);
});

test('diff reports per-syscall differences with example arguments', () => {
  const a = defaultProfile();
  const b: Profile = JSON.parse(JSON.stringify(a)) as Profile;
  // b: allow AF_ALG and deny getppid
  b.syscalls = b.syscalls.filter((r) => !(r.names.includes('socket') && r.action === 'SCMP_ACT_ERRNO' && r.args?.[0]?.value === 38));
  b.syscalls = b.syscalls.map((r) => (r.names.includes('socket') && r.args?.[0]?.op === 'SCMP_CMP_LT' ? { ...r, args: [{ ...r.args[0]!, value: 39 }] } : r));
  b.syscalls.push({ names: ['getppid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5 });
  b.syscalls[0] = { ...b.syscalls[0]!, names: b.syscalls[0]!.names.filter((n) => n !== 'getppid') };
  const d = diffProfiles(a, b, { arch: 'SCMP_ARCH_X86_64', ...ctx });
  const names = [...new Set(d.map((x) => `${x.arch}:${x.syscall}`))].sort();
  assert.deepEqual(names, ['SCMP_ARCH_X32:getppid', 'SCMP_ARCH_X32:socket', 'SCMP_ARCH_X86:getppid', 'SCMP_ARCH_X86:socket', 'SCMP_ARCH_X86_64:getppid', 'SCMP_ARCH_X86_64:socket']);
  const s = d.find((x) => x.arch === 'SCMP_ARCH_X86_64' && x.syscall === 'socket')!;
  assert.deepEqual(s.examples[0], { args: ['0x26'], a: 'ERRNO(1)', b: 'ALLOW' });
  assert.deepEqual(diffProfiles(a, a, { arch: 'SCMP_ARCH_X86_64', ...ctx }), []);
});

test('probe corpus covers both sides of each comparison and skips unsafe syscalls', () => {
  const { seccomp } = resolveProfile(defaultProfile(), { arch: 'SCMP_ARCH_X86_64', ...ctx });
  const { cases, skipped } = probeCorpus(seccomp, { native: 'SCMP_ARCH_X86_64' });
  assert.ok(skipped.includes('clone') && skipped.includes('write'));
  assert.ok(cases.every((c) => c.name === undefined || !UNSAFE_TO_EXECUTE.has(c.name)));
  const socket = cases.filter((c) => c.name === 'socket' && c.arch === 'SCMP_ARCH_X86_64').map((c) => c.args[0]);
  for (const v of [37n, 38n, 39n, 40n, 41n]) assert.ok(socket.includes(v), `socket(${v})`);
  const verdicts = new Set(cases.map((c) => decide(seccomp, { nr: c.nr, arch: AUDIT_ARCH_X86_64, args: c.args }, 'SCMP_ARCH_X86_64', { enosysStub: true }).action));
  for (const v of ['ALLOW', 'ERRNO(1)', 'ERRNO(38)']) assert.ok(verdicts.has(v), v);
  assert.equal(probeArg({ name: 'socket', arch: 'SCMP_ARCH_X86_64', nr: 41, args: [38n, 0n, 0n, 0n, 0n, 0n] }), '29:26:0:0:0:0:0');
});

test('outcomes: parse probe output and predict from verdicts', () => {
  const out = parseProbeOutput('1 ok 3e3f\n1 status 0\n2 errno 14\n2 status 0\n3 status 159\n4 status 0\n', 4);
  assert.deepEqual(out, [{ kind: 'ok' }, { kind: 'errno', errno: 14 }, { kind: 'signal', signal: 31 }, { kind: 'lost' }]);
  assert.deepEqual(expectedOutcome(0x7fff0000, { kind: 'errno', errno: 14 }), { kind: 'errno', errno: 14 });
  assert.deepEqual(expectedOutcome(0x00050005, { kind: 'ok' }), { kind: 'errno', errno: 5 });
  assert.deepEqual(expectedOutcome(0x00050000, { kind: 'errno', errno: 9 }), { kind: 'ok' });
  assert.deepEqual(expectedOutcome(0x7ff00005, { kind: 'ok' }), { kind: 'errno', errno: 38 });
  assert.deepEqual(expectedOutcome(0x80000000, { kind: 'ok' }), { kind: 'signal', signal: 31 });
  assert.deepEqual(expectedOutcome(0x00030000, { kind: 'ok' }), { kind: 'signal', signal: 31 });
});

const STRACE = `100 execve("/usr/sbin/runc", ["runc", "run", "x"], 0x7ffc /* 20 vars */) = 0
100 clone(child_stack=NULL, flags=CLONE_VM) = 101
101 execve("/proc/self/exe", ["runc", "init"], 0x0 /* 3 vars */) = 0
101 openat(AT_FDCWD, "/etc/x", O_RDONLY) = 3
101 seccomp(SECCOMP_SET_MODE_FILTER, 0, {len=10, filter=0x1}) = 0
101 fstatfs(3, {f_type=PROC_SUPER_MAGIC}) = 0
101 getpid() = 1
101 execve("/bin/sh", ["sh", "-c", "mkdir /tmp/x"], 0xc0 /* 3 vars */) = 0
101 brk(NULL) = 0x1000
101 clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>
100 futex(0x1, FUTEX_WAIT, 0, NULL <unfinished ...>
101 <... clone resumed>) = 102
102 mkdir("/tmp/x", 0777) = 0
102 exit_group(0) = ?
101 wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 102
101 exit_group(0) = ?
`;

test('record: parseStrace keeps the workload after exec and runc init after the load', () => {
  const rec = parseStrace(STRACE);
  assert.deepEqual([...rec.workload.keys()].sort(), ['brk', 'clone', 'execve', 'exit_group', 'mkdir', 'wait4']);
  assert.deepEqual([...rec.runtime.keys()].sort(), ['fstatfs', 'getpid']);
  assert.deepEqual([...rec.pids].sort(), [101, 102]);
  const { profile } = synthesizeProfile(rec, { arch: 'SCMP_ARCH_X86_64' });
  assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(profile.defaultErrnoRet, 38);
  assert.deepEqual(profile.syscalls[0]?.names, ['brk', 'clone', 'execve', 'exit_group', 'mkdir', 'wait4']);
  const runtime = profile.syscalls[1]?.names ?? [];
  for (const n of ['fstatfs', 'getpid', 'futex', 'capset', 'openat']) assert.ok(runtime.includes(n), `runc init may call ${n}`);
  assert.ok(!runtime.includes('mkdir'), 'the runtime rule holds no workload call');
  assert.deepEqual(profile.syscalls[2]?.names, ['restart_syscall'], 'what neither rule has of signal return, restart and exit');
  assert.ok(parseProfile(JSON.parse(JSON.stringify(profile))).ok);
  const merged = synthesizeProfile(rec, { arch: 'SCMP_ARCH_X86_64', merge: defaultProfile() });
  assert.deepEqual(merged.added, [], 'the default allows the rest unconditionally');
  assert.deepEqual(merged.conditional, ['clone'], 'clone keeps its namespace-flag conditions');
  assert.equal(merged.profile.syscalls.length, defaultProfile().syscalls.length);
  const lean = synthesizeProfile(rec, { arch: 'SCMP_ARCH_X86_64', merge: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['brk'], action: 'SCMP_ACT_ALLOW' }] } });
  for (const n of ['clone', 'execve', 'exit_group', 'fstatfs', 'getpid', 'mkdir', 'wait4', 'rt_sigreturn', 'restart_syscall', 'futex']) assert.ok(lean.added.includes(n), n);
  assert.ok(!lean.added.includes('brk'), 'the base allows brk already');
});

test('lint: libseccomp-specific findings (errno 4095, mask 0, rule merging)', () => {
  const r = lintProfile({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 4095, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'], syscalls: [{ names: ['getuid'], action: 'SCMP_ACT_ALLOW' }] });
  assert.deepEqual(r.errors.map((e) => [e.path.join('.'), e.code]), [['defaultErrnoRet', 'errno_rejected_by_libseccomp']]);
  const r2 = lintProfile({
    defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    syscalls: [
      { names: ['getresuid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5, args: [{ index: 0, op: 'SCMP_CMP_LE', value: 40 }, { index: 1, op: 'SCMP_CMP_LT', value: 38 }] },
      { names: ['getresuid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5, args: [{ index: 0, op: 'SCMP_CMP_GE', value: 38 }] },
      { names: ['socket'], action: 'SCMP_ACT_TRACE', args: [{ index: 0, op: 'SCMP_CMP_MASKED_EQ', value: 0, valueTwo: 0 }] },
      { names: ['getpid'], action: 'SCMP_ACT_ERRNO', errnoRet: 4095 },
    ],
  });
  assert.deepEqual(r2.errors.map((e) => [e.path.join('.'), e.code]), [['syscalls.3.errnoRet', 'errno_rejected_by_libseccomp']]);
  assert.deepEqual(r2.warnings.filter((w) => w.code === 'libseccomp_merge').map((w) => w.path.join('.')), ['syscalls.0']);
  assert.deepEqual(r2.warnings.filter((w) => w.code === 'always_matches').map((w) => w.path.join('.')), ['syscalls.2.args.0']);
});
