/**
 * Seccomp: Docker-format profiles (parse, validate, resolve to OCI), moat's default profile,
 * --security-opt seccomp-allow/seccomp-deny, NOTIFY conversion and syscall tables.
 *
 * @example
 * import { defaultProfile, resolveProfile } from '../seccomp/index.js';
 * const { seccomp } = resolveProfile(defaultProfile(), { arch: 'SCMP_ARCH_X86_64', capabilities: ['CAP_CHOWN'], kernel: '6.18.44' });
 */

/**
 * OCI `linux.seccomp` types (runtime-spec keys verbatim): LinuxSeccomp, LinuxSyscall,
 * LinuxSeccompArg, SeccompAction, SeccompOperator, SeccompArch.
 *
 * @example
 * const s: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] };
 */
export * from './oci.js';

/**
 * Parses and validates a Docker/OCI profile; issues carry JSON paths.
 *
 * @example
 * const r = parseProfile(JSON.parse(text));
 * if (!r.ok) throw invalid(`Invalid seccomp profile: ${formatIssues(r.issues)}`);
 */
export { parseProfile } from './profile.js';

/**
 * Renders issues one per line as `path: message`.
 *
 * @example
 * formatIssues([{ path: ['syscalls', 2, 'action'], code: 'unknown_action', message: 'Unknown action "SCMP_ACT_NOPE"' }]);
 * // 'syscalls[2].action: Unknown action "SCMP_ACT_NOPE"'
 */
export { formatIssues } from './profile.js';

/**
 * The profile model and the checker's result types.
 *
 * @example
 * const p: Profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
 */
export type { Profile, ProfileRule, ProfileArg, ProfileFilter, ArchMapEntry, Issue, Parsed } from './profile.js';

/**
 * The supported actions, operators and flags: the one list of each (for `moat info` and the parser).
 *
 * @example
 * SECCOMP_ACTIONS.includes('SCMP_ACT_NOTIFY'); // true
 */
export { SECCOMP_ACTIONS, SECCOMP_OPERATORS, SECCOMP_FLAGS } from './profile.js';

/**
 * Resolves a profile for one container (caps, daemon arch, kernel) to OCI `linux.seccomp`.
 *
 * @example
 * const { seccomp, origins, warnings } = resolveProfile(profile, { arch: hostArch(process.arch), capabilities: effectiveCaps, kernel: os.release() });
 */
export { resolveProfile } from './resolve.js';

/**
 * Options and result of resolveProfile; `origins[i]` is the profile rule (and comment) behind `seccomp.syscalls[i]`.
 *
 * @example
 * const opts: ResolveOptions = { arch: 'SCMP_ARCH_AARCH64', capabilities: [], kernel: '6.1.0' };
 */
export type { ResolveOptions, Resolved, RuleOrigin } from './resolve.js';

/**
 * moat's default profile in Docker JSON shape (what `moat seccomp default` prints).
 *
 * @example
 * process.stdout.write(JSON.stringify(defaultProfile(), null, 2) + '\n');
 */
export { defaultProfile, type DefaultProfileOptions } from './default-profile.js';

/**
 * Applies --security-opt seccomp-allow / seccomp-deny to a profile; deny wins.
 *
 * @example
 * const r = amendProfile(defaultProfile(), { allow: ['ptrace'], deny: ['mkdir'] });
 * if (!r.ok) throw invalid(`Invalid seccomp option: ${formatIssues(r.issues)}`);
 */
export { amendProfile, AMEND_ALLOW_COMMENT, AMEND_DENY_COMMENT, type AmendOptions } from './amend.js';

/**
 * Converts ERRNO rules to SCMP_ACT_NOTIFY for a listener, and gives the listener its answers.
 *
 * @example
 * const { seccomp, table } = toNotifyProfile(resolved.seccomp, '/run/moat/seccomp.sock', { comments: resolved.origins.map((o) => o.comment) });
 */
export { toNotifyProfile, type NotifyRule, type NotifyOptions } from './notify.js';

/**
 * The errno a listener answers for a syscall name, from toNotifyProfile's table.
 *
 * @example
 * notifyErrno(table, 'keyctl'); // 1
 */
export { notifyErrno } from './notify.js';

/**
 * 'sha256:' + hex of the canonical JSON (sorted keys) of an OCI seccomp section.
 *
 * @example
 * profileDigest({ defaultAction: 'SCMP_ACT_ALLOW' }); // 'sha256:…'
 */
export { profileDigest } from './digest.js';

/**
 * Each rule's names in the order libseccomp 2.5 builds the same filter fastest (moatd applies
 * it to what it writes for runc).
 * @example
 * orderForLibseccomp({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' }] }, 'SCMP_ARCH_X86_64').syscalls?.[0]?.names; // ['write', 'read']
 */
export { orderForLibseccomp } from './order.js';

/**
 * Syscall name <-> number per arch (x32 numbers include the x32 bit).
 *
 * @example
 * syscallNumber('SCMP_ARCH_X86_64', 'mkdir'); // 83
 * syscallName('SCMP_ARCH_AARCH64', 56);        // 'openat'
 */
export { syscallNumber, syscallName } from './tables/index.js';

/**
 * All names of one arch, ordered by number.
 *
 * @example
 * syscallNames('SCMP_ARCH_X86_64').length; // 383 (Linux 6.18)
 */
export { syscallNames } from './tables/index.js';

/**
 * True when some arch's table knows the name (the parser's fail-closed check).
 *
 * @example
 * isKnownOnAnyArch('chown32'); // true (i386)
 * isKnownOnAnyArch('mkdirr');  // false
 */
export { isKnownOnAnyArch } from './tables/index.js';

/**
 * Kernel version and source of an arch's table.
 *
 * @example
 * tableInfo('SCMP_ARCH_X86_64').kernel; // '6.18'
 */
export { tableInfo } from './tables/index.js';

/**
 * Maps Node's `process.arch` to the libseccomp arch; throws a not-implemented EngineError otherwise.
 *
 * @example
 * hostArch(process.arch); // 'SCMP_ARCH_X86_64' on x64
 */
export { hostArch } from './tables/index.js';

/**
 * `seccomp_data.arch` values (linux/audit.h) per libseccomp arch, and the common ones by name.
 *
 * @example
 * AUDIT_ARCH.SCMP_ARCH_X32 === AUDIT_ARCH_X86_64; // true: x32 is told apart by X32_SYSCALL_BIT in nr
 */
export { AUDIT_ARCH } from './tables/index.js';
export { AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, X32_SYSCALL_BIT } from './bpf/index.js';

/**
 * Every arch with a table, OCI spelling.
 *
 * @example
 * SECCOMP_ARCHES.includes('SCMP_ARCH_RISCV64'); // true
 */
export { SECCOMP_ARCHES } from './tables/index.js';

/**
 * The BPF toolkit: compile a resolved profile, load raw programs, emulate, disassemble.
 *
 * @example
 * const program = compileSeccomp(resolved.seccomp, { arch: 'SCMP_ARCH_X86_64', resolveNr: (a, n) => syscallNumber(a as SeccompArch, n) });
 */
export { compileSeccomp, loadProgram, runFilter, runFilterTrace, evaluateSeccomp, evaluateRules, disassemble, Program, type SeccompData, type CompileOptions, type RuleVerdict, type RuleCandidate, type Decider } from './bpf/index.js';

/**
 * A profile's semantics, defined once (bpf/semantics.ts): action -> return value, precedence,
 * argument comparison, argument width, sub-arch of a call, runc's ENOSYS stub; and the
 * kernel's return-value constants.
 *
 * @example
 * actionRet('SCMP_ACT_ERRNO', 13) === (SECCOMP_RET_ERRNO | 13); // true
 */
export {
  ACTION_RET, DEFAULT_ERRNO, ENOSYS_RET, actionRet, retAction, retData, retRank, retLetsCallRun, argMask, argWidth,
  argMatches, ruleArgsMatch, subArchOf, filterNr, enosysCutoff,
  SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO, SECCOMP_RET_USER_NOTIF,
  SECCOMP_RET_TRACE, SECCOMP_RET_LOG, SECCOMP_RET_ALLOW, SECCOMP_RET_ACTION_FULL, SECCOMP_RET_DATA,
  type ArgComparison, type NativeArch, type ResolveNr, type SubArchOf, type StubInput,
} from './bpf/index.js';

/**
 * errno values the default profile and runc's stub use.
 *
 * @example
 * ENOSYS_RET === (SECCOMP_RET_ERRNO | ENOSYS); // true
 */
export { EPERM, ENOSYS } from './bpf/semantics.js';

/**
 * Human form of a seccomp return value (`ALLOW`, `ERRNO(1)`, `KILL_PROCESS`, …).
 *
 * @example
 * formatAction(0x00050001); // 'ERRNO(1)'
 */
export { formatAction } from './bpf/index.js';
