/**
 * The seccomp workbench: lint, explain, diff, probe corpora and kernel-outcome checks, and
 * record -> profile synthesis. Pure: the CLI does the I/O.
 *
 * @example
 * import { lintProfile, explainSyscall } from '../seccomp-workbench/index.js';
 */

/**
 * Parser errors plus warnings of intent (pointer args, dangerous allowances, shadowed rules, arches).
 *
 * @example
 * const { errors, warnings } = lintProfile(JSON.parse(text));
 */
export { lintProfile, type LintResult } from './lint.js';

/**
 * The action, errno and deciding rule for one syscall, and per-syscall differences of two profiles.
 *
 * @example
 * explainSyscall(defaultProfile(), { arch: 'SCMP_ARCH_X86_64', syscall: 'socket', args: [38n] }, { capabilities: [], kernel: '6.18' }).action; // 'ERRNO(1)'
 */
export { explainSyscall, diffProfiles, resolveFor, formatCondition, formatConditions, type Explanation, type DiffEntry, type ContainerContext } from './explain.js';

/**
 * Rule-level evaluation of a resolved OCI section, naming the rule that decided.
 *
 * @example
 * decide(resolved.seccomp, { nr: 41, arch: AUDIT_ARCH_X86_64, args: [38n] }, 'SCMP_ARCH_X86_64').by; // { kind: 'rule', index: 3 }
 */
export { decide, queryData, syscallNr, tableResolver, NATIVE_OF, type Decision, type Decider, type Candidate, type DecideOptions, type NativeArch, type SyscallQuery } from './decide.js';

/**
 * Probe corpora and the comparison of kernel outcomes with verdicts.
 *
 * @example
 * const { cases } = probeCorpus(resolved.seccomp, { native: 'SCMP_ARCH_X86_64' });
 */
export {
  probeCorpus, probeArg, parseProbeOutput, expectedOutcome, formatOutcome, sameOutcome, boundaryValues, combine,
  UNSAFE_TO_EXECUTE, SAFE_POOL, type ProbeCase, type Outcome,
} from './corpus.js';

/**
 * strace output -> recorded syscalls -> a minimal (or merged) profile.
 *
 * @example
 * const { profile } = synthesizeProfile(parseStrace(text), { arch: 'SCMP_ARCH_X86_64' });
 */
export { parseStrace, synthesizeProfile, RECORD_COMMENT, RUNTIME_COMMENT, type Recording } from './record.js';

/**
 * Pointer-argument and dangerous-syscall tables the lint uses.
 *
 * @example
 * POINTER_ARGS.openat; // [1]: the path
 */
export { POINTER_ARGS, DANGEROUS } from './tables.js';

/**
 * Syscalls one resolved filter blocks and another permits (for some arguments): what makes a
 * container's seccomp "weaker than the default".
 *
 * @example
 * weakerSyscalls(effective, baseline, { arch: 'SCMP_ARCH_X86_64' }); // ['keyctl']
 */
export { weakerSyscalls } from './weaker.js';
