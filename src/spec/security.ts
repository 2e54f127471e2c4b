// Security-related parts of the OCI spec that come from HostConfig: masked and read-only
// paths, device nodes and device cgroup rules, namespaced sysctls, rlimits and
// --security-opt. Pure: no host access. Facts: shared/docs/security-model.md §4-5,
// engine-api.md §4.2; the sources cited per item.

import { invalid } from '../base/index.js';
import { cleanPath } from '../docker/index.js';
import type { LinuxDevice, LinuxDeviceCgroup } from './types.js';

// ---------------------------------------------------------------------------------------
// Masked and read-only paths

/** Docker 20.10's masked paths (moby `oci/defaults.go`), as `docker inspect` shows them. */
export const DOCKER_MASKED_PATHS: readonly string[] = Object.freeze([
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
]);

/**
 * moat's masked paths: Docker 20.10's plus the two fixed paths moby master added for
 * GHSA-6fw5-f8r9-fgfm and GHSA-jq35-85cj-fj4p (`/proc/interrupts`,
 * `/sys/devices/virtual/powercap`). Master also masks each existing
 * `/sys/devices/system/cpu/cpuN/thermal_throttle`; listing those needs the host, so the
 * caller appends them through `systemPaths({ extraMasked })`.
 */
export const MOAT_MASKED_PATHS: readonly string[] = Object.freeze([
  ...DOCKER_MASKED_PATHS,
  '/proc/interrupts',
  '/sys/devices/virtual/powercap',
]);

/** Docker's read-only paths (moby `oci/defaults.go`), each re-mounted read-only over itself. */
export const DEFAULT_READONLY_PATHS: readonly string[] = Object.freeze([
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
]);

export interface SystemPathsOptions {
  /** HostConfig.Privileged: nothing masked, nothing read-only, /sys and cgroups writable. */
  privileged?: boolean | undefined;
  /** `--security-opt systempaths=unconfined` (the docker CLI sends `[]` lists instead). */
  systempathsUnconfined?: boolean | undefined;
  /** HostConfig.MaskedPaths: null/undefined = defaults, `[]` = none, a list = that list. */
  maskedPaths?: readonly string[] | null | undefined;
  /** HostConfig.ReadonlyPaths: same convention. */
  readonlyPaths?: readonly string[] | null | undefined;
  /** The daemon's masked defaults; MOAT_MASKED_PATHS unless given. */
  defaultMasked?: readonly string[] | undefined;
  /** Host-specific additions to the masked defaults (thermal_throttle dirs). */
  extraMasked?: readonly string[] | undefined;
}

export interface SystemPaths {
  /** OCI `linux.maskedPaths`. */
  maskedPaths: string[];
  /** OCI `linux.readonlyPaths`. */
  readonlyPaths: string[];
  /** Whether `/sys` (and the cgroup mount) is mounted read-only; false only when privileged. */
  sysReadOnly: boolean;
}

/**
 * OCI masked/read-only paths as Docker chooses them (`daemon/oci_linux.go`): privileged →
 * none and /sys writable; an explicit HostConfig list (including `[]` from
 * `systempaths=unconfined`) wins over the defaults.
 */
export function systemPaths(options: SystemPathsOptions = {}): SystemPaths {
  if (options.privileged === true) return { maskedPaths: [], readonlyPaths: [], sysReadOnly: false };
  if (options.systempathsUnconfined === true) return { maskedPaths: [], readonlyPaths: [], sysReadOnly: true };
  const masked = options.maskedPaths ?? [...(options.defaultMasked ?? MOAT_MASKED_PATHS), ...(options.extraMasked ?? [])];
  const readonly = options.readonlyPaths ?? DEFAULT_READONLY_PATHS;
  return { maskedPaths: [...new Set(masked)], readonlyPaths: [...new Set(readonly)], sysReadOnly: true };
}

// ---------------------------------------------------------------------------------------
// Devices

/**
 * The device nodes every container gets (runc `libcontainer/specconv` AllowedDevices, as
 * observed in a Docker container: all 0666 character devices). Docker leaves
 * `linux.devices` empty and lets runc create these; listing them is harmless and makes the
 * spec self-describing. `/dev/ptmx` (symlink to pts/ptmx) and `/dev/console` (the pty, only
 * with a terminal) are made by runc, not listed here.
 */
export const DEFAULT_DEVICE_NODES: readonly LinuxDevice[] = Object.freeze([
  { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
] satisfies LinuxDevice[]);

const rwm = (type: 'c' | 'b', major: number | undefined, minor: number | undefined): LinuxDeviceCgroup => {
  const r: LinuxDeviceCgroup = { allow: true, type, access: 'rwm' };
  if (major !== undefined) r.major = major;
  if (minor !== undefined) r.minor = minor;
  return r;
};

/**
 * The device cgroup rules of a default container, in the order Docker's spec and runc
 * produce them: deny all; Docker's allow list (zero, null, urandom, random, tty, console);
 * deny fuse; then runc's additions (`c *:* m`, `b *:* m`, full, ptmx, tun, pts `136:*`).
 * The effective `devices.list` is the verified one in security-model.md §5.4.
 */
export const DEFAULT_DEVICE_RULES: readonly LinuxDeviceCgroup[] = Object.freeze([
  { allow: false, access: 'rwm' },
  rwm('c', 1, 5),
  rwm('c', 1, 3),
  rwm('c', 1, 9),
  rwm('c', 1, 8),
  rwm('c', 5, 0),
  rwm('c', 5, 1),
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  rwm('c', 1, 7),
  rwm('c', 5, 2),
  rwm('c', 10, 200),
  rwm('c', 136, undefined),
] satisfies LinuxDeviceCgroup[]);

/** The single rule of a privileged container: `a *:* rwm`. */
export const ALLOW_ALL_DEVICES: readonly LinuxDeviceCgroup[] = Object.freeze([{ allow: true, access: 'rwm' }]);

/** HostConfig.Devices[] entry, Docker keys verbatim. */
export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

const isDeviceMode = (s: string): boolean => s.length > 0 && s.length <= 3 && /^[rwm]+$/.test(s) && new Set(s).size === s.length;

/**
 * Parses `--device HOST[:CONTAINER][:PERMS]` like docker/cli `opts/parse.go` parseDevice:
 * PERMS defaults to `rwm`, CONTAINER to HOST; `/dev/x:rw` means permissions, not a path.
 * Paths must be absolute, as the CLI's validateDevice checks.
 */
export function parseDevice(spec: string): DeviceMapping {
  const arr = spec.split(':');
  let src = '';
  let dst = '';
  let permissions = 'rwm';
  if (arr.length === 3) {
    permissions = arr[2] ?? '';
    dst = arr[1] ?? '';
  } else if (arr.length === 2) {
    const second = arr[1] ?? '';
    if (isDeviceMode(second)) permissions = second;
    else dst = second;
  } else if (arr.length !== 1) {
    throw invalid(`invalid device specification: ${spec}`);
  }
  src = arr[0] ?? '';
  if (dst === '') dst = src;
  return checkDeviceMapping({ PathOnHost: src, PathInContainer: dst, CgroupPermissions: permissions });
}

/**
 * Validates a HostConfig.Devices entry as sent through the API (absolute paths,
 * permissions a non-empty subset of `rwm`; empty permissions mean `rwm`, as moby does).
 * Returns it with cleaned paths.
 */
export function checkDeviceMapping(d: DeviceMapping): DeviceMapping {
  const perms = d.CgroupPermissions === '' ? 'rwm' : d.CgroupPermissions;
  if (!isDeviceMode(perms)) throw invalid(`bad mode specified: ${perms}`);
  const dst = d.PathInContainer === '' ? d.PathOnHost : d.PathInContainer;
  for (const p of [d.PathOnHost, dst]) {
    if (!p.startsWith('/')) throw invalid(`${p} is not an absolute path`);
  }
  return { PathOnHost: cleanPath(d.PathOnHost), PathInContainer: cleanPath(dst), CgroupPermissions: perms };
}

const DEVICE_RULE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

/**
 * Parses a `--device-cgroup-rule` (`c 1:3 rwm`, `b 8:* r`, `a *:* m`) with moby's regex
 * (`daemon/oci_linux.go` WithDevices) into an allow rule; `*` becomes an absent
 * major/minor (OCI's wildcard).
 */
export function parseDeviceCgroupRule(rule: string): LinuxDeviceCgroup {
  const m = DEVICE_RULE.exec(rule);
  if (m === null) throw invalid(`invalid device cgroup rule format: '${rule}'`);
  const [, type, major, minor, access] = m as unknown as [string, 'a' | 'c' | 'b', string, string, string];
  const r: LinuxDeviceCgroup = { allow: true, type, access };
  if (major !== '*') r.major = Number(major);
  if (minor !== '*') r.minor = Number(minor);
  return r;
}

/** A --device entry after the lead has stat()ed the host node. */
export interface ResolvedDevice {
  type: 'c' | 'b';
  major: number;
  minor: number;
  /** CgroupPermissions, a subset of `rwm`. */
  permissions: string;
}

/**
 * The full `linux.resources.devices` list: privileged → `a *:* rwm` only (Docker ignores
 * custom permissions then); otherwise the defaults, then one allow rule per --device,
 * then the parsed --device-cgroup-rule entries.
 */
export function deviceCgroupRules(options: {
  privileged?: boolean | undefined;
  devices?: readonly ResolvedDevice[] | undefined;
  rules?: readonly string[] | null | undefined;
  defaults?: readonly LinuxDeviceCgroup[] | undefined;
}): LinuxDeviceCgroup[] {
  if (options.privileged === true) return ALLOW_ALL_DEVICES.map((r) => ({ ...r }));
  const out = (options.defaults ?? DEFAULT_DEVICE_RULES).map((r) => ({ ...r }));
  for (const d of options.devices ?? []) {
    if (!isDeviceMode(d.permissions)) throw invalid(`bad mode specified: ${d.permissions}`);
    out.push({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.permissions });
  }
  for (const r of options.rules ?? []) out.push(parseDeviceCgroupRule(r));
  return out;
}

// ---------------------------------------------------------------------------------------
// Sysctls

/** IPC sysctls runc accepts in a private IPC namespace (runc `libcontainer/configs/validate`). */
export const IPC_SYSCTLS: readonly string[] = Object.freeze([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/** The namespace modes from HostConfig (`""`, `private`, `host`, `container:<id>` …). */
export interface NamespaceModes {
  ipcMode?: string | undefined;
  netMode?: string | undefined;
  utsMode?: string | undefined;
}

/**
 * Validates one sysctl against the container's namespaces with runc's rules and words,
 * so the error comes at create (400) instead of at start: IPC keys (`kernel.msg*`,
 * `kernel.sem`, `kernel.shm*`, `fs.mqueue.*`) need a non-host IPC namespace, `net.*` a
 * non-host network namespace, `kernel.domainname` a non-host UTS namespace;
 * `kernel.hostname` conflicts with the OCI `hostname` field; anything else is not
 * namespaced.
 */
export function validateSysctl(name: string, value: string, options: NamespaceModes = {}): void {
  const q = JSON.stringify(name);
  if (typeof value !== 'string') throw invalid(`sysctl ${q} value must be a string`);
  if (IPC_SYSCTLS.includes(name) || name.startsWith('fs.mqueue.')) {
    if (options.ipcMode === 'host') throw invalid(`sysctl ${q} is not allowed in the hosts ipc namespace`);
    return;
  }
  if (name.startsWith('net.')) {
    if (options.netMode === 'host') throw invalid(`sysctl ${q} not allowed in host network namespace`);
    return;
  }
  if (options.utsMode !== 'host') {
    if (name === 'kernel.domainname') return;
    if (name === 'kernel.hostname') throw invalid(`sysctl ${q} is not allowed as it conflicts with the OCI "hostname" field`);
  }
  throw invalid(`sysctl ${q} is not in a separate kernel namespace`);
}

/** Validates every entry of HostConfig.Sysctls; returns a copy (null → `{}`). */
export function validateSysctls(sysctls: Readonly<Record<string, string>> | null | undefined, options: NamespaceModes = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sysctls ?? {})) {
    validateSysctl(k, v, options);
    out[k] = v;
  }
  return out;
}

/**
 * moat's default sysctls: `net.ipv4.ping_group_range = "0 2147483647"` so ping works
 * without CAP_NET_RAW, set only in a network namespace of the container's own (not
 * `host`, not `container:<id>`, whose namespace belongs to another container) and, as
 * Docker does, not in a user namespace (the range would name unmapped gids). User
 * sysctls override these: spread them after.
 * (Docker also sets `net.ipv4.ip_unprivileged_port_start = 0`; moat does not.)
 */
export function defaultSysctls(options: { netMode?: string | undefined; userns?: boolean | undefined }): Record<string, string> {
  const net = options.netMode ?? '';
  if (net === 'host' || net.startsWith('container:') || options.userns === true) return {};
  return { 'net.ipv4.ping_group_range': '0 2147483647' };
}

// ---------------------------------------------------------------------------------------
// Ulimits → rlimits

/** Ulimit names accepted by Docker (go-units `ulimit.go`) → OCI rlimit type. */
export const ULIMIT_TYPES = Object.freeze({
  as: 'RLIMIT_AS',
  core: 'RLIMIT_CORE',
  cpu: 'RLIMIT_CPU',
  data: 'RLIMIT_DATA',
  fsize: 'RLIMIT_FSIZE',
  locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE',
  nice: 'RLIMIT_NICE',
  nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS',
  rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING',
  stack: 'RLIMIT_STACK',
} as const);

export type UlimitName = keyof typeof ULIMIT_TYPES;

/** HostConfig.Ulimits[] entry, Docker keys verbatim. -1 means unlimited. */
export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

/**
 * RLIM_INFINITY (u64 all ones). JSON numbers cannot carry it exactly, so it is a bigint:
 * write the spec with `toOciJson()`.
 */
export const RLIM_INFINITY = 18446744073709551615n;

/** OCI `process.rlimits[]` entry. `soft`/`hard` are u64: a bigint only for RLIM_INFINITY. */
export interface OciRlimit {
  type: (typeof ULIMIT_TYPES)[UlimitName];
  soft: number | bigint;
  hard: number | bigint;
}

function parseInt64(s: string): number {
  if (!/^[+-]?[0-9]+$/.test(s)) throw invalid(`strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw invalid(`strconv.ParseInt: parsing ${JSON.stringify(s)}: value out of range`);
  return n;
}

function checkUlimit(u: Ulimit): Ulimit {
  if (!Object.hasOwn(ULIMIT_TYPES, u.Name)) throw invalid(`invalid ulimit type: ${u.Name}`);
  for (const v of [u.Soft, u.Hard]) {
    if (!Number.isSafeInteger(v) || v < -1) throw invalid(`invalid ulimit value for ${u.Name}: ${v}`);
  }
  if (u.Hard !== -1 && (u.Soft === -1 || u.Soft > u.Hard)) {
    throw invalid(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft === -1 ? RLIM_INFINITY : u.Soft} > ${u.Hard}`);
  }
  return u;
}

/**
 * Parses `--ulimit name=soft[:hard]` like go-units ParseUlimit: hard defaults to soft,
 * -1 is unlimited, soft > hard is a 400.
 */
export function parseUlimit(spec: string): Ulimit {
  const eq = spec.indexOf('=');
  if (eq < 0) throw invalid(`invalid ulimit argument: ${spec}`);
  const name = spec.slice(0, eq);
  const vals = spec.slice(eq + 1);
  if (!Object.hasOwn(ULIMIT_TYPES, name)) throw invalid(`invalid ulimit type: ${name}`);
  const parts = vals.split(':');
  if (parts.length > 2) throw invalid(`too many limit value arguments - ${vals}, can only have up to two, \`soft[:hard]\``);
  const soft = parseInt64(parts[0] ?? '');
  const hard = parts.length === 2 ? parseInt64(parts[1] ?? '') : soft;
  return checkUlimit({ Name: name, Soft: soft, Hard: hard });
}

/**
 * HostConfig.Ulimits (plus the daemon's `--default-ulimit` list, which per-container
 * entries override by name, as moby's `mergeUlimits` does) → OCI `process.rlimits`.
 * Docker sets no rlimits unless asked; neither does this.
 */
export function ulimitsToRlimits(ulimits: readonly Ulimit[] | null | undefined, options: { defaults?: readonly Ulimit[] | undefined } = {}): OciRlimit[] {
  const byName = new Map<string, Ulimit>();
  for (const u of options.defaults ?? []) byName.set(u.Name, checkUlimit(u));
  for (const u of ulimits ?? []) byName.set(u.Name, checkUlimit(u));
  const val = (n: number): number | bigint => (n === -1 ? RLIM_INFINITY : n);
  return [...byName.values()].map((u) => ({ type: ULIMIT_TYPES[u.Name as UlimitName], soft: val(u.Soft), hard: val(u.Hard) }));
}

/**
 * JSON.stringify for OCI documents that may hold bigints (RLIM_INFINITY): bigints are
 * written as bare integers, which Go decodes into uint64.
 */
export function toOciJson(value: unknown, options: { indent?: number } = {}): string {
  const marker = '\u0000bigint:';
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${marker}${v.toString()}` : v), options.indent);
  return text.replace(/"\\u0000bigint:(-?[0-9]+)"/g, '$1');
}

// ---------------------------------------------------------------------------------------
// --security-opt

export type SeccompChoice =
  | { kind: 'default' }
  | { kind: 'unconfined' }
  | { kind: 'builtin' }
  | { kind: 'profile'; json: string };

/** HostConfig.SecurityOpt, parsed. Absent fields were not given. */
export interface SecurityOpts {
  noNewPrivileges?: boolean;
  /** Absent: the daemon's default profile applies ({kind:'default'} is for callers). */
  seccomp?: SeccompChoice;
  /** moat extension `seccomp-allow=name[,name…]`: syscalls to allow on top of the profile. */
  seccompAllow: string[];
  /** moat extension `seccomp-deny=name[,name…]`: syscalls to deny on top of the profile. */
  seccompDeny: string[];
  apparmor?: string;
  /** `label=…` values in order (`label=disable`, `label=user:U`, bare `disable`). */
  label?: string[];
  /** `systempaths=unconfined` (the docker CLI removes it; other clients may send it). */
  systempathsUnconfined?: boolean;
}

const SYSCALL_NAME = /^[a-z0-9_]+$/;

function parseBool(s: string): boolean | undefined {
  // Go's strconv.ParseBool
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/**
 * Parses HostConfig.SecurityOpt like moby's `parseSecurityOpt` (`daemon/daemon_unix.go`):
 * `key=value`, or `key:value` when there is no `=`; bare `no-new-privileges` and bare
 * `disable` (a label option). Errors use dockerd's words: no separator →
 * `invalid --security-opt 1: "X"`, unknown key or bad boolean → `invalid --security-opt 2: "X"`.
 * `seccomp=<json>` is what the CLI sends for `seccomp=<file>`; a value that is not JSON
 * (a path sent by another client) is rejected, since the daemon does not read client paths.
 */
export function parseSecurityOpts(list: readonly string[] | null | undefined): SecurityOpts {
  const out: SecurityOpts = { seccompAllow: [], seccompDeny: [] };
  const label: string[] = [];
  for (const opt of list ?? []) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') {
      label.push('disable');
      continue;
    }
    let sep = opt.indexOf('=');
    if (sep < 0) sep = opt.indexOf(':');
    if (sep < 0) throw invalid(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const key = opt.slice(0, sep);
    const value = opt.slice(sep + 1);
    const bad = (): never => {
      throw invalid(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    };
    switch (key) {
      case 'label':
        label.push(value);
        break;
      case 'apparmor':
        out.apparmor = value;
        break;
      case 'seccomp':
        if (value === 'unconfined') out.seccomp = { kind: 'unconfined' };
        else if (value === 'builtin') out.seccomp = { kind: 'builtin' };
        else if (value.trimStart().startsWith('{')) out.seccomp = { kind: 'profile', json: value };
        else throw invalid(`Decoding seccomp profile failed: ${JSON.stringify(value)} is not a JSON profile (send the file's content, as the docker CLI does)`);
        break;
      case 'no-new-privileges': {
        const b = parseBool(value);
        if (b === undefined) bad();
        out.noNewPrivileges = b as boolean;
        break;
      }
      case 'systempaths':
        if (value !== 'unconfined') bad();
        out.systempathsUnconfined = true;
        break;
      case 'seccomp-allow':
      case 'seccomp-deny': {
        const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
        if (names.length === 0 || !names.every((n) => SYSCALL_NAME.test(n))) bad();
        (key === 'seccomp-allow' ? out.seccompAllow : out.seccompDeny).push(...names);
        break;
      }
      default:
        bad();
    }
  }
  if (label.length > 0) out.label = label;
  return out;
}
