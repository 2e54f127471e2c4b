// Syscall name <-> number per architecture, from the generated tables (see
// scripts/gen-syscall-tables.mjs for the sources and kernel version of each).
// errors.js, not index.js: the base index also loads the logger (pino), which pure code does not need.
import { EngineError } from '../../base/index.js';
import type { SeccompArch } from '../oci.js';
import { TABLES } from './generated.js';
import type { SyscallTableData } from './types.js';

export type { SyscallTableData } from './types.js';

import {
  AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_MIPS, AUDIT_ARCH_MIPS64, AUDIT_ARCH_MIPS64N32,
  AUDIT_ARCH_MIPSEL, AUDIT_ARCH_MIPSEL64, AUDIT_ARCH_MIPSEL64N32, AUDIT_ARCH_PARISC, AUDIT_ARCH_PARISC64, AUDIT_ARCH_PPC,
  AUDIT_ARCH_PPC64, AUDIT_ARCH_PPC64LE, AUDIT_ARCH_RISCV64, AUDIT_ARCH_S390, AUDIT_ARCH_S390X, AUDIT_ARCH_X86_64,
} from '../bpf/constants.js';

/** The `seccomp_data.arch` value the kernel reports for each libseccomp arch. x32 shares x86_64's. */
export const AUDIT_ARCH: Readonly<Record<SeccompArch, number>> = {
  SCMP_ARCH_X86_64: AUDIT_ARCH_X86_64,
  SCMP_ARCH_X32: AUDIT_ARCH_X86_64,
  SCMP_ARCH_X86: AUDIT_ARCH_I386,
  SCMP_ARCH_AARCH64: AUDIT_ARCH_AARCH64,
  SCMP_ARCH_ARM: AUDIT_ARCH_ARM,
  SCMP_ARCH_MIPS: AUDIT_ARCH_MIPS,
  SCMP_ARCH_MIPSEL: AUDIT_ARCH_MIPSEL,
  SCMP_ARCH_MIPS64: AUDIT_ARCH_MIPS64,
  SCMP_ARCH_MIPSEL64: AUDIT_ARCH_MIPSEL64,
  SCMP_ARCH_MIPS64N32: AUDIT_ARCH_MIPS64N32,
  SCMP_ARCH_MIPSEL64N32: AUDIT_ARCH_MIPSEL64N32,
  SCMP_ARCH_PPC: AUDIT_ARCH_PPC,
  SCMP_ARCH_PPC64: AUDIT_ARCH_PPC64,
  SCMP_ARCH_PPC64LE: AUDIT_ARCH_PPC64LE,
  SCMP_ARCH_S390: AUDIT_ARCH_S390,
  SCMP_ARCH_S390X: AUDIT_ARCH_S390X,
  SCMP_ARCH_PARISC: AUDIT_ARCH_PARISC,
  SCMP_ARCH_PARISC64: AUDIT_ARCH_PARISC64,
  SCMP_ARCH_RISCV64: AUDIT_ARCH_RISCV64,
};

/** Every arch the engine knows, in the OCI spelling. The one list; parsers use it. */
export const SECCOMP_ARCHES: readonly SeccompArch[] = Object.keys(TABLES) as SeccompArch[];

interface Index {
  readonly byName: ReadonlyMap<string, number>;
  readonly byNr: ReadonlyMap<number, string>;
  readonly names: readonly string[];
}

const indexes = new Map<SyscallTableData, Index>();

function indexOf(arch: SeccompArch): Index | undefined {
  const table = TABLES[arch] as SyscallTableData | undefined;
  if (table === undefined) return undefined;
  let idx = indexes.get(table);
  if (idx === undefined) {
    const byName = new Map<string, number>();
    const byNr = new Map<number, string>();
    for (const [name, nr] of table.entries) {
      byName.set(name, nr);
      if (!byNr.has(nr)) byNr.set(nr, name);
    }
    idx = { byName, byNr, names: Object.freeze(table.entries.map(([n]) => n)) };
    indexes.set(table, idx);
  }
  return idx;
}

let allNames: ReadonlySet<string> | undefined;

/** The number of syscall `name` on `arch` (x32 numbers include the x32 bit), or undefined. */
export function syscallNumber(arch: SeccompArch, name: string): number | undefined {
  return indexOf(arch)?.byName.get(name);
}

/** The name of syscall `nr` on `arch`, or undefined. */
export function syscallName(arch: SeccompArch, nr: number): string | undefined {
  return indexOf(arch)?.byNr.get(nr);
}

/** All syscall names of `arch`, ordered by number. */
export function syscallNames(arch: SeccompArch): readonly string[] {
  return indexOf(arch)?.names ?? [];
}

/** True when some arch's table has `name`. */
export function isKnownOnAnyArch(name: string): boolean {
  if (allNames === undefined) {
    const s = new Set<string>();
    for (const t of new Set(Object.values(TABLES))) for (const [n] of t.entries) s.add(n);
    allNames = s;
  }
  return allNames.has(name);
}

/** The kernel version and source a table describes. */
export function tableInfo(arch: SeccompArch): { readonly kernel: string; readonly source: string } {
  const t = TABLES[arch];
  return { kernel: t.kernel, source: t.source };
}

// Node's process.arch values -> libseccomp arch (as moby maps runtime.GOARCH).
const NODE_ARCH: Readonly<Record<string, SeccompArch>> = {
  x64: 'SCMP_ARCH_X86_64',
  ia32: 'SCMP_ARCH_X86',
  arm64: 'SCMP_ARCH_AARCH64',
  arm: 'SCMP_ARCH_ARM',
  // Node says 'ppc64' for the little-endian Linux build it supports.
  ppc64: 'SCMP_ARCH_PPC64LE',
  ppc: 'SCMP_ARCH_PPC',
  s390x: 'SCMP_ARCH_S390X',
  s390: 'SCMP_ARCH_S390',
  riscv64: 'SCMP_ARCH_RISCV64',
  mips: 'SCMP_ARCH_MIPS',
  mipsel: 'SCMP_ARCH_MIPSEL',
  mips64: 'SCMP_ARCH_MIPS64',
  mips64el: 'SCMP_ARCH_MIPSEL64',
};

/** The libseccomp arch for a Node `process.arch` string; throws for arches seccomp does not cover. */
export function hostArch(processArch: string): SeccompArch {
  const a = NODE_ARCH[processArch];
  if (a === undefined) {
    throw new EngineError('not-implemented', 'ERR_SECCOMP_ARCH', `Cannot map host architecture to seccomp: unsupported "${processArch}"`);
  }
  return a;
}
