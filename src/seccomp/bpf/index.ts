/**
 * Classic BPF for seccomp: compile an OCI `linux.seccomp` section, load and validate raw
 * `sock_filter` programs, run them in a kernel-faithful emulator, and disassemble them.
 * Pure: no I/O.
 *
 * @example
 * import { compileSeccomp, runFilter, AUDIT_ARCH_X86_64 } from './bpf/index.js';
 * const program = compileSeccomp(profile, { arch: 'SCMP_ARCH_X86_64', resolveNr });
 * runFilter(program, { nr: 110, arch: AUDIT_ARCH_X86_64 }); // 0x7fff0000 (ALLOW)
 */

/**
 * A validated seccomp program: `.instructions`, `.length`, `.bytes()` (raw little-endian
 * `struct sock_filter` array for seccomp(2)). Only `compileSeccomp` and `loadProgram` make one.
 *
 * @example
 * const program: Program = compileSeccomp(profile, { arch: 'SCMP_ARCH_X86_64', resolveNr });
 * program.bytes().length === program.length * 8; // true
 */
export { Program } from './program.js';

/**
 * Decode and validate raw `sock_filter` bytes as the kernel would (length 1..4096, aligned
 * loads inside seccomp_data, forward jumps in range, final `ret`, scratch memory written
 * before read). Throws EngineError `ERR_SECCOMP_INVALID_PROGRAM`.
 *
 * @example
 * const runc = loadProgram(new Uint8Array(readFileSync('runc.bpf')));
 * runc.length; // 1015
 */
export { loadProgram } from './program.js';

/**
 * Compile an OCI `linux.seccomp` section for one host arch (plus the sub-arches listed in
 * `architectures`: x86 and x32 on x86_64, arm on aarch64). Rule semantics are listed at
 * the top of compile.ts. Throws EngineError `ERR_SECCOMP_COMPILE` or
 * `ERR_SECCOMP_PROGRAM_TOO_LARGE` (> 4096 instructions).
 *
 * @example
 * const program = compileSeccomp(
 *   { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW' }] },
 *   { arch: 'SCMP_ARCH_X86_64', resolveNr: (arch, name) => table[arch]?.[name] },
 * );
 */
export { compileSeccomp, type CompileInput, type CompileOptions, type CompileSyscall, type CompileArg, type ArgValue } from './compile.js';

/**
 * Run a program (a `Program` or a raw instruction array, validated first) on one
 * `seccomp_data` and return the u32 verdict.
 *
 * @example
 * runFilter(program, { nr: 41, arch: AUDIT_ARCH_X86_64, args: [38n] }) === (SECCOMP_RET_ERRNO | 1);
 */
export { runFilter } from './emulate.js';

/**
 * Like `runFilter`, and also counts the instructions executed.
 *
 * @example
 * runFilterTrace(program, { nr: 110, arch: AUDIT_ARCH_X86_64 }); // { ret: 0x7fff0000, executed: 10 }
 */
export { runFilterTrace, type FilterTrace } from './emulate.js';

/**
 * Several filters on one task: all run, the strictest action wins, newest first on ties;
 * x86_64 uprobe/uretprobe bypass the filters. `programs` in install order.
 *
 * @example
 * runFilterStack([runcFilter, extraFilter], { nr: 83, arch: AUDIT_ARCH_X86_64 });
 */
export { runFilterStack } from './emulate.js';

/**
 * True if the kernel's action cache would skip the filter for (arch, nr): a constant
 * `ret ALLOW` reached from nr/arch tests only.
 *
 * @example
 * isConstAllow(program, { nr: 0, arch: AUDIT_ARCH_X86_64 }); // read: true
 */
export { isConstAllow } from './emulate.js';

/**
 * The profile's verdict for one `seccomp_data`, evaluated directly from the rules (no BPF):
 * the oracle the compiler is tested against.
 *
 * @example
 * evaluateSeccomp(profile, { nr: 41, arch: AUDIT_ARCH_X86_64, args: [38n] }, { arch: 'SCMP_ARCH_X86_64', resolveNr });
 */
export { evaluateSeccomp } from './reference.js';

/**
 * Like evaluateSeccomp, and names what decided (a rule, the default, bad-arch, the ENOSYS
 * stub) and every rule naming the syscall: what `moat seccomp explain` shows.
 *
 * @example
 * evaluateRules(profile, { nr: 41, arch: AUDIT_ARCH_X86_64, args: [38n] }, { arch: 'SCMP_ARCH_X86_64', resolveNr }).by; // { kind: 'rule', index: 3 }
 */
export { evaluateRules, type RuleVerdict, type RuleCandidate, type Decider } from './reference.js';

/**
 * The semantics of a profile, defined once for the compiler, the evaluator and the notify
 * listener: SCMP_ACT_* -> return value (errno EPERM when absent), kernel precedence, one
 * argument comparison (u64, truncated on 32-bit ABIs), a rule's comparisons (AND; OR when an
 * index repeats, as runc splits), the argument width of a call, the sub-arch a call lands in,
 * and runc's ENOSYS stub cutoff.
 *
 * @example
 * actionRet('SCMP_ACT_ERRNO', undefined); // 0x00050001
 * argMatches({ op: 'SCMP_CMP_MASKED_EQ', value: 0x10000000, valueTwo: 0x10000000 }, 0x10000000n, 64); // true
 */
export {
  ACTION_RET, DEFAULT_ERRNO, ENOSYS_RET, actionRet, retAction, retData, retRank, retLetsCallRun, argMask, argWidth,
  argMatches, ruleArgsMatch, subArchOf, filterNr, enosysCutoff,
  type ArgComparison, type NativeArch, type ResolveNr, type SubArchOf, type StubInput,
} from './semantics.js';

/**
 * What the kernel hands a filter: `nr` (i32; x32 calls carry bit 30), `arch`
 * (AUDIT_ARCH_*), `ip` and up to six u64 `args`.
 *
 * @example
 * const data: SeccompData = { nr: 135, arch: AUDIT_ARCH_X86_64, args: [0xffffffffn] };
 */
export type { SeccompData } from './emulate.js';

/**
 * One line per instruction: absolute jump targets, named seccomp_data fields
 * (`ld [args[0].hi]`), decoded actions (`ret ERRNO(1)`), optional syscall names.
 *
 * @example
 * console.log(disassemble(program, { syscallName: (nr) => names.get(nr) }));
 */
export { disassemble, type DisassembleOptions } from './disasm.js';

/**
 * Classic BPF instruction record and its raw encoding.
 *
 * @example
 * decodeInstructions(encodeInstructions(program.instructions));
 */
export { encodeInstructions, decodeInstructions, type Instruction } from './insn.js';

/**
 * Kernel return values, masks and AUDIT_ARCH values; `formatAction(0x50001)` = `'ERRNO(1)'`.
 *
 * @example
 * (ret & SECCOMP_RET_ACTION_FULL) >>> 0 === SECCOMP_RET_ERRNO;
 */
export {
  SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_KILL, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO,
  SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE, SECCOMP_RET_LOG, SECCOMP_RET_ALLOW, SECCOMP_RET_ACTION_FULL,
  SECCOMP_RET_ACTION, SECCOMP_RET_DATA, AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM,
  X32_SYSCALL_BIT, formatAction,
} from './constants.js';
