// Issue 8, checked against reality: for generated profiles and (syscall, arguments) cases,
// (1) our emulator on our compiled program, (2) our emulator on libseccomp's program for the
// same profile (linear and binary tree), and (3) the kernel running runc's filter (a probe
// under runc 1.1.5) agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { libseccompProgram, runBatchProbe } from '../../helpers/seccomp-workbench/index.js';
import {
  AUDIT_ARCH_X86_64, compileSeccomp, formatAction, loadProgram, runFilter, syscallNames, syscallNumber, X32_SYSCALL_BIT,
  evaluateSeccomp, type LinuxSeccomp, type LinuxSyscall, type Program, type SeccompAction, type SeccompOperator,
} from '../../../src/seccomp/index.js';
import {
  expectedOutcome, formatOutcome, lintProfile, parseProbeOutput, probeArg, probeCorpus, sameOutcome, tableResolver, type ProbeCase,
} from '../../../src/seccomp-workbench/index.js';

// Syscalls a rule may target: no side effects outside the probe's forked child whatever the
// arguments (no paths, no fds the probe relies on), and not used by runc's init after it
// loads the filter.
const POOL = ['getuid', 'geteuid', 'getgid', 'getegid', 'umask', 'personality', 'socket', 'getpriority', 'getsid', 'getpgid',
  'fsync', 'fchdir', 'lseek', 'dup', 'times', 'sysinfo', 'getrlimit', 'alarm', 'setsid', 'getitimer', 'sched_getscheduler',
  'sched_get_priority_max', 'ioprio_get', 'getresuid', 'getresgid', 'capget', 'fdatasync', 'getpgrp', 'getppid'];
const ACTIONS: SeccompAction[] = ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_ERRNO', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP', 'SCMP_ACT_TRACE', 'SCMP_ACT_LOG'];
const OPS: SeccompOperator[] = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];
const VALUES = [0, 1, 2, 3, 5, 38, 39, 40, 0x7f, 0x80000000, 0xffffffff, 0x100000000, 0x1ffffffff];

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random profile: rules on a few POOL syscalls; everything else allowed so runc and the probe can run. */
function generate(r: () => number): LinuxSeccomp {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const errno = (): number => pick([0, 1, 13, 38, 77, 200, 1000, 4094, 1 + Math.floor(r() * 4093)]);
  const defaultAction = pick<SeccompAction>(['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_ERRNO', 'SCMP_ACT_LOG']);
  const s: LinuxSeccomp = { defaultAction };
  if (defaultAction === 'SCMP_ACT_ERRNO') s.defaultErrnoRet = errno();
  const arches = pick([[], ['SCMP_ARCH_X86_64'], ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X32']] as const);
  if (arches.length > 0) s.architectures = [...arches];
  const rules: LinuxSyscall[] = [];
  if (defaultAction !== 'SCMP_ACT_ALLOW' && defaultAction !== 'SCMP_ACT_LOG') {
    rules.push({ names: syscallNames('SCMP_ARCH_X86_64').filter((n) => !POOL.includes(n)), action: 'SCMP_ACT_ALLOW' });
  }
  const chosen = [...POOL].sort(() => r() - 0.5).slice(0, 3 + Math.floor(r() * 6));
  for (const name of chosen) {
    // Conditional rules of one syscall share one action (partial overlaps of different
    // actions follow libseccomp's tree order, which moat deliberately does not copy).
    const condAction = pick(ACTIONS);
    const condErrno = errno();
    const n = 1 + Math.floor(r() * 3);
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const idx = [0, 1, 2].sort(() => r() - 0.5).slice(0, Math.floor(r() * 3));
      const args = idx.map((index) => {
        const op = pick(OPS);
        const value = pick(VALUES);
        return op === 'SCMP_CMP_MASKED_EQ' ? { index, op, value, valueTwo: Number(BigInt(value) & BigInt(pick([0, 1, 0xff, 0x80000000]))) } : { index, op, value };
      });
      const key = JSON.stringify(args);
      if (seen.has(key)) continue;
      seen.add(key);
      const rule: LinuxSyscall = args.length === 0
        ? { names: [name], action: pick(ACTIONS), ...(r() < 0.5 ? { errnoRet: errno() } : {}) }
        : { names: [name], action: condAction, errnoRet: condErrno, args };
      if (rule.action !== 'SCMP_ACT_ERRNO' && rule.action !== 'SCMP_ACT_TRACE') delete rule.errnoRet;
      rules.push(rule);
    }
  }
  s.syscalls = rules;
  return s;
}

const PROFILES = Number(process.env['MOAT_DIFF_PROFILES'] ?? 60);
const SEED = Number(process.env['MOAT_DIFF_SEED'] ?? 8);

test('emulator on our program, emulator on libseccomp\'s program and the kernel (runc) agree', async (t) => {
  if (!requires(t, 'root', 'runc', 'gcc')) return;
  const r = rng(SEED);
  const profiles = Array.from({ length: PROFILES }, () => generate(r));
  const corpora = profiles.map((s) => {
    // The corpus covers the generated rules only (not the allow-everything-else rule).
    const own = { ...s, syscalls: (s.syscalls ?? []).filter((x) => x.names.length === 1) };
    return probeCorpus(own, { native: 'SCMP_ARCH_X86_64', perSyscall: 48, extra: 3 }).cases;
  });
  // One unconfined run gives every case's natural outcome.
  const all = [...new Set(corpora.flat().map(probeArg))];
  const base = await runBatchProbe(undefined, all);
  assert.equal(base.code, 0, base.stderr);
  const baseOut = parseProbeOutput(base.stdout, all.length);
  const baseline = new Map(all.map((a, i) => [a, baseOut[i]!]));
  assert.ok(baseOut.every((o) => o.kind !== 'lost' && o.kind !== 'signal'), 'unconfined, every case reports a result');

  let emuCases = 0;
  let kernelCases = 0;
  const emuMismatch: string[] = [];
  const kernelMismatch: string[] = [];
  const verdicts = new Set<string>();
  const sigsys = { n: 0 };
  const stubCases = { n: 0 };
  const refused: string[] = [];
  const lscWrong: string[] = [];
  const lscWrongProfiles = new Set<number>();
  const unflagged = new Set<string>();
  const ruleSets = { n: 0, flagged: 0 };
  for (const [pi, s] of profiles.entries()) {
    const cases: ProbeCase[] = corpora[pi]!;
    const ours = compileSeccomp(s, { arch: 'SCMP_ARCH_X86_64', resolveNr: tableResolver });
    const oursStub = compileSeccomp(s, { arch: 'SCMP_ARCH_X86_64', resolveNr: tableResolver, enosysStub: true });
    let linear: Program;
    let bintree: Program;
    try {
      linear = loadProgram(new Uint8Array(libseccompProgram(s, 1)));
      bintree = loadProgram(new Uint8Array(libseccompProgram(s, 2)));
    } catch (err) {
      // libseccomp refuses some rule sets moat compiles (e.g. i386 socketcall rewriting makes
      // two socket rules identical: EEXIST). runc then must refuse to start too.
      const why = String((err as { stderr?: unknown }).stderr ?? err).trim().split('\n').pop() ?? '';
      const run = await runBatchProbe(s, cases.slice(0, 1).map(probeArg));
      assert.notEqual(run.code, 0, `runc started a profile libseccomp refuses (${why})`);
      assert.equal(run.stdout, '', 'the probe did not run');
      refused.push(`profile ${pi}: ${why}`);
      continue;
    }
    for (const n of new Set((s.syscalls ?? []).filter((x) => x.names.length === 1).map((x) => x.names[0]!))) {
      const own = (s.syscalls ?? []).filter((x) => x.names.length === 1 && x.names[0] === n);
      ruleSets.n++;
      if (lintProfile({ defaultAction: s.defaultAction, syscalls: own }).warnings.some((w) => w.code === 'libseccomp_merge')) ruleSets.flagged++;
    }
    const kernelRet = new Map<string, number>();
    for (const c of cases) {
      const data = { nr: c.nr | 0, arch: AUDIT_ARCH_X86_64, args: [...c.args] };
      const a = runFilter(ours, data) >>> 0;
      const stub = runFilter(oursStub, data) >>> 0;
      const l = runFilter(linear, data) >>> 0;
      const b = runFilter(bintree, data) >>> 0;
      const oracle = evaluateSeccomp(s, data, { arch: 'SCMP_ARCH_X86_64', resolveNr: tableResolver }) >>> 0;
      emuCases++;
      verdicts.add(formatAction(a).replace(/\(\d+\)/, ''));
      const where = `profile ${pi} ${c.name ?? c.nr} ${probeArg(c)}`;
      if (a !== oracle) emuMismatch.push(`${where}: ours ${formatAction(a)}, rule oracle ${formatAction(oracle)}`);
      if (l !== oracle || b !== oracle) {
        // libseccomp's program disagrees with the profile's rules: recorded, and the kernel
        // (which runs libseccomp's program through runc) must side with libseccomp.
        lscWrong.push(`${where}: profile/ours ${formatAction(a)}, libseccomp linear ${formatAction(l)}, bintree ${formatAction(b)}`);
        lscWrongProfiles.add(pi);
        // The lint must have warned about this syscall's rules.
        const own = (s.syscalls ?? []).filter((x) => x.names.length === 1 && x.names[0] === c.name);
        const lint = lintProfile({ defaultAction: s.defaultAction, syscalls: own });
        if (!lint.warnings.some((w) => ['libseccomp_merge', 'always_matches', 'shadowed_rule'].includes(w.code))) unflagged.add(`profile ${pi} ${c.name ?? c.nr}`);
      }
      // runc 1.1.5 installs its ENOSYS stub + libseccomp's linear program. Our compiled stub
      // models when runc adds one (none when `architectures` is empty: semantics.ts
      // enosysCutoff), so where it changes our verdict the kernel must follow it.
      kernelRet.set(probeArg(c), stub !== a ? stub : l);
      if (stub !== a) stubCases.n++;
    }
    const run = await runBatchProbe(s, cases.map(probeArg));
    assert.equal(run.stderr.includes('error'), false, `runc failed for profile ${pi}: ${run.stderr}\n${JSON.stringify(s).slice(0, 2000)}`);
    const got = parseProbeOutput(run.stdout, cases.length);
    cases.forEach((c, i) => {
      const ret = kernelRet.get(probeArg(c))!;
      const want = expectedOutcome(ret, baseline.get(probeArg(c))!);
      kernelCases++;
      if (got[i]!.kind === 'signal') sigsys.n++;
      if (!sameOutcome(want, got[i]!)) {
        kernelMismatch.push(`profile ${pi} [${(s.architectures ?? []).join(',')}] ${c.name ?? c.nr} ${probeArg(c)}: emulated runc program ${formatAction(ret)} -> ${formatOutcome(want)}, kernel ${formatOutcome(got[i]!)}`);
      }
    });
  }
  t.diagnostic(`${PROFILES} profiles (seed ${SEED}); ${emuCases} emulated cases x 3 programs; ${kernelCases} kernel cases; ${sigsys.n} SIGSYS; ${stubCases.n} in runc's ENOSYS stub; verdicts seen: ${[...verdicts].sort().join(' ')}; refused by libseccomp and runc: ${refused.length ? refused.join('; ') : 'none'}; libseccomp differs from the rules in ${lscWrong.length} cases of ${lscWrongProfiles.size} profiles; lint flagged ${ruleSets.flagged} of ${ruleSets.n} per-syscall rule sets as libseccomp_merge`);
  for (const w of lscWrong) t.diagnostic(`libseccomp differs from the rules: ${w}`);
  { const pis = lscWrongProfiles; for (const pi of pis) t.diagnostic(`profile ${pi}: ${JSON.stringify({ ...profiles[pi]!, syscalls: profiles[pi]!.syscalls!.filter((x) => x.names.length === 1) })}`); }
  assert.deepEqual(emuMismatch, [], 'our program follows the rules');
  assert.deepEqual([...unflagged], [], 'moat seccomp lint warns about every rule set libseccomp compiles wrongly here');
  assert.ok(lscWrong.length <= emuCases / 50, `libseccomp differs from the rules in few cases (${lscWrong.length})`);
  assert.deepEqual(kernelMismatch, [], 'the kernel agrees with the emulator');
  for (const v of ['ALLOW', 'ERRNO', 'KILL_THREAD', 'KILL_PROCESS', 'TRAP', 'TRACE', 'LOG']) assert.ok(verdicts.has(v), `corpus reached ${v}`);
  assert.ok(kernelCases > 500, `enough kernel cases (${kernelCases})`);
  void syscallNumber;
  void X32_SYSCALL_BIT;
});

test('issue 8 finding: libseccomp 2.5.4 merges range rules of one syscall wrongly, and runc installs that', async (t) => {
  if (!requires(t, 'root', 'runc', 'gcc')) return;
  // Both rules ERRNO(5): "arg0 <= 40 && arg1 < 38" OR "arg0 >= 38".
  const s: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { names: ['getresuid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5, args: [{ index: 0, op: 'SCMP_CMP_LE', value: 40 }, { index: 1, op: 'SCMP_CMP_LT', value: 38 }] },
      { names: ['getresuid'], action: 'SCMP_ACT_ERRNO', errnoRet: 5, args: [{ index: 0, op: 'SCMP_CMP_GE', value: 38 }] },
    ],
  };
  const cases: ProbeCase[] = [
    { name: 'getresuid', arch: 'SCMP_ARCH_X86_64', nr: 118, args: [39n, 0x100000026n, 0n, 0n, 0n, 0n] }, // rule 2 matches
    { name: 'getresuid', arch: 'SCMP_ARCH_X86_64', nr: 118, args: [0n, 0xfff0n, 0x7fn, 0n, 0n, 0n] }, // no rule matches
  ];
  const ours = compileSeccomp(s, { arch: 'SCMP_ARCH_X86_64', resolveNr: tableResolver });
  const lsc = loadProgram(new Uint8Array(libseccompProgram(s, 1)));
  const data = cases.map((c) => ({ nr: c.nr, arch: AUDIT_ARCH_X86_64, args: [...c.args] }));
  assert.deepEqual(data.map((d) => formatAction(runFilter(ours, d))), ['ERRNO(5)', 'ALLOW'], 'moat follows the rules');
  assert.deepEqual(data.map((d) => formatAction(runFilter(lsc, d))), ['ALLOW', 'ERRNO(5)'], 'libseccomp 2.5.4 inverts both');
  const run = await runBatchProbe(s, cases.map(probeArg));
  const got = parseProbeOutput(run.stdout, cases.length).map(formatOutcome);
  assert.deepEqual(got, ['errno 14', 'errno 5'], 'the kernel runs libseccomp\'s verdicts (EFAULT = allowed with a bad pointer)');
});
