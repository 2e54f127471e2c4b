// The one capability table (linux/include/uapi/linux/capability.h). Every list of
// capability names in the engine derives from CAPABILITIES: the parser, the validator,
// the default sets and the privileged set.

import { invalid } from '../base/index.js';

/** Every capability the kernel knows, with its bit number (capability.h, up to 6.x). */
export const CAPABILITIES = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
} as const;

/** A capability name as the kernel and the OCI spec spell it (`CAP_NET_RAW`). */
export type CapName = keyof typeof CAPABILITIES;

/** A normalised CapAdd/CapDrop entry: a capability, or Docker's magic `ALL`. */
export type CapOrAll = CapName | 'ALL';

/** All capability names, in bit order. */
export const ALL_CAPS: readonly CapName[] = Object.freeze(
  (Object.keys(CAPABILITIES) as CapName[]).sort((a, b) => CAPABILITIES[a] - CAPABILITIES[b]),
);

/**
 * Docker's 14 default capabilities (moby `oci/caps/defaults.go`), mask 0xa80425fb.
 */
export const DOCKER_DEFAULT_CAPS: readonly CapName[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_RAW',
  'CAP_SYS_CHROOT',
  'CAP_MKNOD',
  'CAP_AUDIT_WRITE',
  'CAP_SETFCAP',
] as const);

/**
 * moat's 11 defaults: Docker's minus NET_RAW, MKNOD and AUDIT_WRITE (the same as
 * containers/common since v0.51), mask 0x800405fb. `ping` keeps working through the
 * `net.ipv4.ping_group_range` sysctl instead of NET_RAW.
 */
export const MOAT_DEFAULT_CAPS: readonly CapName[] = Object.freeze(
  DOCKER_DEFAULT_CAPS.filter((c) => c !== 'CAP_NET_RAW' && c !== 'CAP_MKNOD' && c !== 'CAP_AUDIT_WRITE'),
);

/** True when `s` is a capability name spelled exactly as in the table. */
export function isCapName(s: string): s is CapName {
  return Object.hasOwn(CAPABILITIES, s);
}

/**
 * Normalises one CapAdd/CapDrop entry like moby's `NormalizeLegacyCapabilities`:
 * case-insensitive, `CAP_` prefix optional, `ALL` (any case) stays `ALL`. Unknown names
 * throw a 400 with dockerd's wording; `field` picks the prefix
 * (`invalid CapAdd: unknown capability: "CAP_FOO"`).
 */
export function normalizeCapName(s: string, options: { field?: 'CapAdd' | 'CapDrop' } = {}): CapOrAll {
  let c = s.toUpperCase();
  if (c === 'ALL') return 'ALL';
  if (!c.startsWith('CAP_')) c = `CAP_${c}`;
  if (!isCapName(c)) {
    const prefix = options.field === undefined ? '' : `invalid ${options.field}: `;
    throw invalid(`${prefix}unknown capability: ${JSON.stringify(c)}`);
  }
  return c;
}

/** The bit mask of a list of capabilities (as in /proc/self/status CapEff). */
export function capMask(names: Iterable<CapName>): bigint {
  let mask = 0n;
  for (const n of names) mask |= 1n << BigInt(CAPABILITIES[n]);
  return mask;
}

/**
 * The capabilities set in `mask`, in bit order. Accepts a bigint or the hex text of a
 * /proc/self/status line (`00000000a80425fb`, with or without `0x`). Bits the table does
 * not know are ignored.
 */
export function capsFromMask(mask: bigint | string): CapName[] {
  const m = typeof mask === 'bigint' ? mask : parseHexMask(mask);
  return ALL_CAPS.filter((c) => (m >> BigInt(CAPABILITIES[c])) & 1n);
}

function parseHexMask(text: string): bigint {
  const t = text.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]+$/.test(t)) throw invalid(`Cannot parse capability mask: ${JSON.stringify(text)}`);
  return BigInt(`0x${t}`);
}
