// Kernel constants for seccomp (include/uapi/linux/seccomp.h, include/uapi/linux/audit.h).
// Values are u32.

export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_KILL = SECCOMP_RET_KILL_THREAD;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const SECCOMP_RET_TRACE = 0x7ff00000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;

export const SECCOMP_RET_ACTION_FULL = 0xffff0000;
export const SECCOMP_RET_ACTION = 0x7fff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;

// linux/audit.h: EM_* | __AUDIT_ARCH_64BIT (0x80000000) | __AUDIT_ARCH_LE (0x40000000).
export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_I386 = 0x40000003;
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;
export const AUDIT_ARCH_ARM = 0x40000028;
export const AUDIT_ARCH_MIPS = 0x00000008;
export const AUDIT_ARCH_MIPSEL = 0x40000008;
export const AUDIT_ARCH_MIPS64 = 0x80000008;
export const AUDIT_ARCH_MIPSEL64 = 0xc0000008;
// n32 sets __AUDIT_ARCH_CONVENTION_MIPS64_N32 (0x20000000).
export const AUDIT_ARCH_MIPS64N32 = 0xa0000008;
export const AUDIT_ARCH_MIPSEL64N32 = 0xe0000008;
export const AUDIT_ARCH_PPC = 0x00000014;
export const AUDIT_ARCH_PPC64 = 0x80000015;
export const AUDIT_ARCH_PPC64LE = 0xc0000015;
export const AUDIT_ARCH_S390 = 0x00000016;
export const AUDIT_ARCH_S390X = 0x80000016;
export const AUDIT_ARCH_PARISC = 0x0000000f;
export const AUDIT_ARCH_PARISC64 = 0x8000000f;
export const AUDIT_ARCH_RISCV64 = 0xc00000f3;
export const AUDIT_ARCH_LOONGARCH64 = 0xc0000102;

/** `__X32_SYSCALL_BIT` (arch/x86/include/uapi/asm/unistd.h): x32 syscalls carry this bit in `seccomp_data.nr` under AUDIT_ARCH_X86_64. */
export const X32_SYSCALL_BIT = 0x40000000;

/** Size of `struct seccomp_data`. */
export const SECCOMP_DATA_SIZE = 64;

const ARCH_NAMES: ReadonlyMap<number, string> = new Map([
  [AUDIT_ARCH_X86_64, 'AUDIT_ARCH_X86_64'],
  [AUDIT_ARCH_I386, 'AUDIT_ARCH_I386'],
  [AUDIT_ARCH_AARCH64, 'AUDIT_ARCH_AARCH64'],
  [AUDIT_ARCH_ARM, 'AUDIT_ARCH_ARM'],
  [AUDIT_ARCH_RISCV64, 'AUDIT_ARCH_RISCV64'],
  [AUDIT_ARCH_S390X, 'AUDIT_ARCH_S390X'],
  [AUDIT_ARCH_PPC64LE, 'AUDIT_ARCH_PPC64LE'],
  [AUDIT_ARCH_LOONGARCH64, 'AUDIT_ARCH_LOONGARCH64'],
]);

/** `AUDIT_ARCH_*` name of a value, or undefined. */
export function findAuditArchName(arch: number): string | undefined {
  return ARCH_NAMES.get(arch >>> 0);
}

/**
 * Human form of a seccomp return value: `ALLOW`, `ERRNO(1)`, `TRACE(5)`, `KILL_PROCESS`, ...
 * Unknown action bits print as `UNKNOWN(0x...)` (the kernel treats them as KILL_PROCESS).
 */
export function formatAction(ret: number): string {
  const r = ret >>> 0;
  const action = (r & SECCOMP_RET_ACTION_FULL) >>> 0;
  const data = r & SECCOMP_RET_DATA;
  switch (action) {
    case SECCOMP_RET_KILL_PROCESS: return 'KILL_PROCESS';
    case SECCOMP_RET_KILL_THREAD: return 'KILL_THREAD';
    case SECCOMP_RET_TRAP: return `TRAP(${data})`;
    case SECCOMP_RET_ERRNO: return `ERRNO(${data})`;
    case SECCOMP_RET_USER_NOTIF: return 'USER_NOTIF';
    case SECCOMP_RET_TRACE: return `TRACE(${data})`;
    case SECCOMP_RET_LOG: return 'LOG';
    case SECCOMP_RET_ALLOW: return 'ALLOW';
    default: return `UNKNOWN(0x${r.toString(16).padStart(8, '0')})`;
  }
}
