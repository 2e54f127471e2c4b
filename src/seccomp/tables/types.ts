import type { SeccompArch } from '../oci.js';

/** One generated syscall table: what scripts/gen-syscall-tables.mjs writes per arch. */
export interface SyscallTableData {
  /** The first arch the table was generated for (arches with equal numbering share it). */
  readonly arch: SeccompArch;
  /** Linux version the table describes, "major.minor". */
  readonly kernel: string;
  /** Where the numbers come from. */
  readonly source: string;
  /** [name, number], sorted by number. x32 numbers include __X32_SYSCALL_BIT. */
  readonly entries: ReadonlyArray<readonly [string, number]>;
}
