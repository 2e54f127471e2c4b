// Issue 13: runc's ENOSYS stub, as the kernel applies it under runc 1.1.5, against the
// compiler, the rule evaluator and the workbench's decide(). The workbench used to skip the
// stub for a profile without `architectures` while the compiler and the evaluator added it;
// the kernel sides with the former (runc computes the stub from the listed arches only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { runBatchProbe } from '../../helpers/seccomp-workbench/index.js';
import {
  AUDIT_ARCH_X86_64, compileSeccomp, evaluateSeccomp, formatAction, runFilter, syscallNames, type LinuxSeccomp,
} from '../../../src/seccomp/index.js';
import { decide, expectedOutcome, formatOutcome, parseProbeOutput, probeArg, tableResolver } from '../../../src/seccomp-workbench/index.js';

// Everything allowed (runc's init and the probe must run) except getppid; the default is
// EPERM. 1000 is above every syscall number libseccomp 2.5.4 and our tables know.
const allowAll = (): NonNullable<LinuxSeccomp['syscalls']> => [{ names: syscallNames('SCMP_ARCH_X86_64').filter((n) => n !== 'getppid'), action: 'SCMP_ACT_ALLOW' }];
const CASES = [
  { name: 'nr 1000 (newer than the profile)', nr: 1000 },
  { name: 'getppid (named nowhere, below the cutoff)', nr: 110 },
];

for (const [label, architectures, want] of [
  ['with architectures', ['SCMP_ARCH_X86_64'], ['errno 38', 'errno 1']],
  ['without architectures', undefined, ['errno 1', 'errno 1']],
] as const) {
  test(`ENOSYS stub ${label}: the kernel, the compiled BPF, the evaluator and decide() agree`, async (t) => {
    if (!requires(t, 'root', 'runc', 'gcc')) return;
    const s: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, ...(architectures ? { architectures: [...architectures] } : {}), syscalls: allowAll() };
    const program = compileSeccomp(s, { arch: 'SCMP_ARCH_X86_64', resolveNr: tableResolver, enosysStub: true });
    const predicted = CASES.map((c) => {
      const data = { nr: c.nr, arch: AUDIT_ARCH_X86_64, args: [0n, 0n, 0n, 0n, 0n, 0n] };
      const bpf = runFilter(program, data) >>> 0;
      const rules = evaluateSeccomp(s, data, { arch: 'SCMP_ARCH_X86_64', resolveNr: tableResolver, enosysStub: true }) >>> 0;
      const d = decide(s, data, 'SCMP_ARCH_X86_64', { enosysStub: true });
      assert.equal(formatAction(rules), formatAction(bpf), `${c.name}: evaluator vs compiled BPF`);
      assert.equal(d.action, formatAction(bpf), `${c.name}: decide() vs compiled BPF`);
      return formatOutcome(expectedOutcome(bpf, { kind: 'ok' }));
    });
    assert.deepEqual(predicted, want, 'predicted outcomes');
    const run = await runBatchProbe(s, CASES.map((c) => probeArg({ name: undefined, arch: 'SCMP_ARCH_X86_64', nr: c.nr, args: [0n, 0n, 0n, 0n, 0n, 0n] })));
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(parseProbeOutput(run.stdout, CASES.length).map(formatOutcome), want, 'the kernel under runc 1.1.5');
  });
}
