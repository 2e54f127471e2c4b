// Container record + image -> run plan (what generateSpec lays out). Every security
// decision is made here, from the daemon's defaults and the container's HostConfig.
import { resolveCapabilities, ociCapabilities, type CapName } from '../caps/index.js';
import type { RunPlan, NamespaceMode, ResolvedUser } from '../spec/index.js';
import type { LinuxSeccomp } from '../seccomp/index.js';
import type { ContainerRecord, SecuritySummary } from './types.js';
import { invalid } from '../base/index.js';

export interface DaemonDefaults {
  capabilities: readonly CapName[];
  /** moatd's own bounding set: "all capabilities" means these. */
  bounding: readonly CapName[];
  pidsLimit: number;
  noNewPrivileges: boolean;
  shmSize: number;
  cgroupParent: string;
}

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface PlanInputs {
  record: ContainerRecord;
  rootfs: string;
  user: ResolvedUser;
  env: string[];
  cwd: string;
  mounts: RunPlan['mounts'];
  seccomp?: { spec: LinuxSeccomp | undefined; name: string; sha256?: string };
}

const DEFAULT_DEVICES: RunPlan['devices'] = [];

export function planContainer(inp: PlanInputs, d: DaemonDefaults): { plan: RunPlan; security: SecuritySummary } {
  const hc = inp.record.HostConfig;
  const cfg = inp.record.Config;
  const privileged = hc.Privileged === true;
  const caps = resolveCapabilities({ capAdd: hc.CapAdd, capDrop: hc.CapDrop, privileged, defaults: d.capabilities, bounding: d.bounding });
  const isRoot = inp.user.uid === 0;
  const namespaces: Partial<Record<'pid' | 'network' | 'ipc' | 'uts' | 'mount' | 'cgroup', NamespaceMode>> = {
    pid: { kind: 'private' },
    network: { kind: 'private' },
    ipc: { kind: 'private' },
    uts: { kind: 'private' },
    mount: { kind: 'private' },
    cgroup: { kind: 'private' },
  };
  const pidsLimit = hc.PidsLimit === undefined || hc.PidsLimit === null || hc.PidsLimit === 0 ? d.pidsLimit : hc.PidsLimit;
  const masked = privileged ? [] : hc.MaskedPaths ?? [...DEFAULT_MASKED_PATHS];
  const readonly = privileged ? [] : hc.ReadonlyPaths ?? [...DEFAULT_READONLY_PATHS];
  let noNewPrivileges = d.noNewPrivileges;
  for (const opt of hc.SecurityOpt ?? []) {
    const m = /^no-new-privileges(?:[=:](true|false))?$/.exec(opt);
    if (m) noNewPrivileges = m[1] !== 'false';
    else if (!/^seccomp[=:]/.test(opt)) throw invalid(`invalid --security-opt: ${JSON.stringify(opt)}`);
  }
  const plan: RunPlan = {
    rootfs: inp.rootfs,
    readonlyRootfs: hc.ReadonlyRootfs === true,
    hostname: cfg.Hostname || inp.record.Id.slice(0, 12),
    ...(cfg.Domainname ? { domainname: cfg.Domainname } : {}),
    args: [inp.record.Path, ...inp.record.Args],
    env: inp.env,
    cwd: inp.cwd,
    terminal: cfg.Tty === true,
    ...(hc.ConsoleSize && hc.ConsoleSize[0] > 0 ? { consoleSize: { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] } } : {}),
    user: { uid: inp.user.uid, gid: inp.user.gid, additionalGids: inp.user.additionalGids },
    capabilities: ociCapabilities(caps, { user: isRoot ? 'root' : 'nonroot' }),
    noNewPrivileges,
    rlimits: [],
    namespaces,
    mounts: inp.mounts,
    shmSize: hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : d.shmSize,
    privileged,
    devices: DEFAULT_DEVICES,
    // Deny every device, then runc appends its default allow list (null, zero, full, tty,
    // random, urandom, pts, ptmx), as Docker does.
    resources: { devices: privileged ? [{ allow: true, access: 'rwm' }] : [{ allow: false, access: 'rwm' }], pids: { limit: pidsLimit < 0 ? -1 : pidsLimit } },
    sysctl: {},
    ...(inp.seccomp?.spec ? { seccomp: inp.seccomp.spec } : {}),
    maskedPaths: masked,
    readonlyPaths: readonly,
    cgroupsPath: `${d.cgroupParent}/${inp.record.Id}`,
  };
  const security: SecuritySummary = {
    Capabilities: caps,
    Seccomp: { Profile: inp.seccomp?.name ?? 'unconfined', ...(inp.seccomp?.sha256 ? { Sha256: inp.seccomp.sha256 } : {}) },
    Namespaces: Object.fromEntries(Object.entries(namespaces).map(([k, v]) => [k, v.kind === 'path' ? v.path : v.kind])),
    PidsLimit: pidsLimit < 0 ? null : pidsLimit,
    MaskedPaths: masked,
    ReadonlyPaths: readonly,
    NoNewPrivileges: noNewPrivileges,
  };
  return { plan, security };
}

/**
 * HostConfig fields this engine enforces. The API refuses any other known field when it
 * is set, so an option is never accepted and silently ignored.
 */
export const ENFORCED_HOST_FIELDS: ReadonlySet<string> = new Set([
  'AutoRemove', 'CapAdd', 'CapDrop', 'Privileged', 'PidsLimit', 'ReadonlyRootfs', 'SecurityOpt', 'Dns', 'DnsOptions',
  'DnsSearch', 'ExtraHosts', 'GroupAdd', 'ShmSize', 'MaskedPaths', 'ReadonlyPaths', 'ConsoleSize', 'LogConfig',
]);
