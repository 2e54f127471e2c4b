// Container record + image -> run plan (what generateSpec lays out). Every security
// decision is made here, from the daemon's defaults and the container's HostConfig. Pure:
// the engine does the host work (stat devices, resolve binds, find joined namespaces) and
// hands the results in.
import { invalid } from '../base/index.js';
import { resolveCapabilities, ociCapabilities, type CapName } from '../caps/index.js';
import {
  systemPaths,
  deviceCgroupRules,
  validateSysctls,
  defaultSysctls,
  ulimitsToRlimits,
  parseSecurityOpts,
  planResources,
  effectivePidsLimit,
  checkDeviceMapping,
  type RunPlan,
  type NamespaceMode,
  type ResolvedUser,
  type Mount,
  type LinuxDevice,
  type ResolvedDevice,
  type Ulimit,
  type SecurityOpts,
  type IdMapping,
} from '../spec/index.js';
import { parseMountRequests, type MountRequest } from '../docker/index.js';
import type { ContainerRecord, HostConfig, SecuritySummary } from './types.js';
import type { ContainerSeccomp } from './seccomp-policy.js';

export interface DaemonDefaults {
  capabilities: readonly CapName[];
  /** moatd's own bounding set: "all capabilities" means these. */
  bounding: readonly CapName[];
  /** Daemon default pids limit; negative = unlimited. */
  pidsLimit: number;
  noNewPrivileges: boolean;
  shmSize: number;
  cgroupParent: string;
  defaultUlimits: readonly Ulimit[];
  /** Set when the daemon runs with --userns-remap. */
  userns?: { uidMappings: IdMapping[]; gidMappings: IdMapping[] } | undefined;
  numCpus: number;
}

/** How a container asked for one namespace. */
export type NsRequest = { kind: 'private' } | { kind: 'host' } | { kind: 'container'; ref: string } | { kind: 'none' } | { kind: 'shareable' };

function parseNsMode(field: string, value: string | undefined, allowed: readonly string[]): NsRequest {
  const v = value ?? '';
  if (v === '' || v === 'private' || v === 'default' || v === 'bridge') return { kind: 'private' };
  if (v.startsWith('container:')) {
    if (!allowed.includes('container')) throw invalid(`invalid ${field}: ${v}`);
    const ref = v.slice('container:'.length);
    if (ref === '') throw invalid(`invalid ${field}: ${v}: no container name or id`);
    return { kind: 'container', ref };
  }
  if (!allowed.includes(v)) throw invalid(`invalid ${field}: ${v}`);
  return { kind: v as 'host' | 'none' | 'shareable' };
}

export interface NamespaceRequests {
  pid: NsRequest;
  ipc: NsRequest;
  uts: NsRequest;
  network: NsRequest;
  cgroup: NsRequest;
  /** True when the container runs in the daemon's remapped user namespace. */
  userns: boolean;
}

/** The namespace each HostConfig mode asks for, validated (Docker's modes, §7.2). */
export function namespaceRequests(hc: HostConfig, d: Pick<DaemonDefaults, 'userns'>): NamespaceRequests {
  const pid = parseNsMode('PidMode', hc.PidMode, ['host', 'container']);
  const ipc = parseNsMode('IpcMode', hc.IpcMode, ['host', 'container', 'none', 'shareable']);
  const uts = parseNsMode('UTSMode', hc.UTSMode, ['host']);
  const network = hc.NetworkMode === 'none' ? { kind: 'none' as const } : parseNsMode('NetworkMode', hc.NetworkMode, ['host', 'container']);
  const cgroup = parseNsMode('CgroupnsMode', hc.CgroupnsMode, ['host']);
  const usernsMode = hc.UsernsMode ?? '';
  if (usernsMode !== '' && usernsMode !== 'host') throw invalid(`invalid UsernsMode: ${usernsMode}: only "host" is supported`);
  const userns = d.userns !== undefined && usernsMode !== 'host';
  if (userns) {
    // Docker's refusals (daemon/daemon_unix.go verifyPlatformContainerSettings), same words.
    if (hc.Privileged) throw invalid('privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode');
    if (pid.kind === 'host') throw invalid('cannot share the host PID namespace when user namespaces are enabled');
    if (network.kind === 'host') throw invalid("cannot share the host's network namespace when user namespaces are enabled");
    // Docker accepts --ipc=host here and then fails at start (mqueue cannot be mounted): refuse up front.
    if (ipc.kind === 'host') throw invalid("cannot share the host's IPC namespace when user namespaces are enabled");
  }
  return { pid, ipc, uts, network, cgroup, userns };
}

/** The container's capability set (before the user decides effective/permitted). */
export function containerCapabilities(hc: HostConfig, d: Pick<DaemonDefaults, 'capabilities' | 'bounding'>): CapName[] {
  return resolveCapabilities({ capAdd: hc.CapAdd, capDrop: hc.CapDrop, privileged: hc.Privileged === true, defaults: d.capabilities, bounding: d.bounding });
}

export interface ValidatedHostConfig {
  caps: CapName[];
  security: SecurityOpts;
  ns: NamespaceRequests;
  mounts: MountRequest[];
  sysctls: Record<string, string>;
  warnings: string[];
}

/**
 * Every check that needs no host access, run at create so that a bad option creates
 * nothing, and again at start.
 */
export function validateHostConfig(rec: Pick<ContainerRecord, 'HostConfig' | 'Config'>, d: DaemonDefaults): ValidatedHostConfig {
  const hc = rec.HostConfig;
  const caps = containerCapabilities(hc, d);
  const security = parseSecurityOpts(hc.SecurityOpt);
  if (security.apparmor !== undefined && security.apparmor !== 'unconfined') {
    throw invalid(`apparmor profile ${JSON.stringify(security.apparmor)} cannot be applied: this kernel has no AppArmor`);
  }
  if (security.label !== undefined && security.label.some((l) => l !== 'disable')) {
    throw invalid('SELinux labels cannot be applied: this kernel has no SELinux');
  }
  const ns = namespaceRequests(hc, d);
  const mounts = parseMountRequests({ Binds: hc.Binds ?? null, Mounts: (hc.Mounts ?? null) as never, Tmpfs: hc.Tmpfs ?? null });
  for (const m of mounts) {
    if (m.target === '/' ) throw invalid('invalid mount config: destination can\'t be \'/\'');
  }
  const modeOf = (r: NsRequest): string => (r.kind === 'container' ? `container:${r.ref}` : r.kind);
  const sysctls = validateSysctls(hc.Sysctls ?? null, { ipcMode: modeOf(ns.ipc), netMode: modeOf(ns.network), utsMode: modeOf(ns.uts) });
  ulimitsToRlimits(hc.Ulimits ?? null, { defaults: d.defaultUlimits });
  for (const dev of hc.Devices ?? []) checkDeviceMapping(dev);
  const { warnings } = planResources(hc, { defaultPidsLimit: d.pidsLimit, numCpus: d.numCpus });
  if (hc.ShmSize !== undefined && hc.ShmSize < 0) throw invalid('SHM size can not be less than 0');
  // The kernel refuses anything else when runc writes /proc/self/oom_score_adj: a 400 now,
  // not a container that can never start (moby daemon/daemon_unix.go wording).
  if (hc.OomScoreAdj !== undefined && (hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000)) {
    throw invalid(`Invalid value ${hc.OomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  }
  return { caps, security, ns, mounts, sysctls, warnings };
}

export interface PlanInputs {
  record: ContainerRecord;
  rootfs: string;
  user: ResolvedUser;
  env: string[];
  cwd: string;
  /** /etc/hostname, /etc/hosts, /etc/resolv.conf binds. */
  etcMounts: Mount[];
  /** Binds, volumes and tmpfs as OCI mounts, sources already resolved on the host. */
  mounts: Mount[];
  /** --device entries, stat()ed on the host. */
  devices: Array<{ node: LinuxDevice; cgroup: ResolvedDevice }>;
  /** /proc/<pid>/ns/<type> paths of containers joined with container:X. */
  joined: Partial<Record<'pid' | 'ipc' | 'network', string>>;
  /** The joined container's user namespace, under remap (Docker joins it too). */
  joinedUserns?: string | undefined;
  seccomp: ContainerSeccomp;
}

function nsModeFor(r: NsRequest, joinedPath: string | undefined): NamespaceMode {
  if (r.kind === 'host') return { kind: 'host' };
  if (r.kind === 'container') {
    if (joinedPath === undefined) throw invalid('cannot join a namespace of a container that is not running');
    return { kind: 'path', path: joinedPath };
  }
  return { kind: 'private' };
}

export function planContainer(inp: PlanInputs, d: DaemonDefaults): { plan: RunPlan; security: SecuritySummary; warnings: string[] } {
  const rec = inp.record;
  const hc = rec.HostConfig;
  const cfg = rec.Config;
  const v = validateHostConfig(rec, d);
  const privileged = hc.Privileged === true;
  const isRoot = inp.user.uid === 0;
  const namespaces: RunPlan['namespaces'] = {
    pid: nsModeFor(v.ns.pid, inp.joined.pid),
    network: nsModeFor(v.ns.network, inp.joined.network),
    ipc: nsModeFor(v.ns.ipc, inp.joined.ipc),
    uts: nsModeFor(v.ns.uts, undefined),
    mount: { kind: 'private' },
    cgroup: nsModeFor(v.ns.cgroup, undefined),
  };
  if (v.ns.userns) namespaces.user = inp.joinedUserns ? { kind: 'path', path: inp.joinedUserns } : { kind: 'private' };
  const paths = systemPaths({
    privileged,
    systempathsUnconfined: v.security.systempathsUnconfined === true,
    maskedPaths: hc.MaskedPaths ?? null,
    readonlyPaths: hc.ReadonlyPaths ?? null,
  });
  const noNewPrivileges = v.security.noNewPrivileges ?? d.noNewPrivileges;
  const planned = planResources(hc, { defaultPidsLimit: d.pidsLimit, numCpus: d.numCpus, devices: inp.devices.map((x) => x.cgroup) });
  const resources = planned.resources;
  resources.devices = deviceCgroupRules({ privileged, devices: inp.devices.map((x) => x.cgroup), rules: hc.DeviceCgroupRules ?? null });
  const ipcNone = v.ns.ipc.kind === 'none';
  // A user mount replaces a default mount on the same destination (Docker's mount filtering).
  const userTargets = new Set(inp.mounts.map((m) => m.destination));
  const etc = inp.etcMounts.filter((m) => !userTargets.has(m.destination));
  const shmMounts: Mount[] = v.ns.ipc.kind === 'host' ? [{ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] }] : [];
  const sysctl = { ...defaultSysctls({ netMode: v.ns.network.kind === 'host' ? 'host' : v.ns.network.kind === 'container' ? 'container:x' : 'private', userns: v.ns.userns }), ...v.sysctls };
  const rlimits = ulimitsToRlimits(hc.Ulimits ?? null, { defaults: d.defaultUlimits });
  const plan: RunPlan = {
    rootfs: inp.rootfs,
    readonlyRootfs: hc.ReadonlyRootfs === true,
    hostname: cfg.Hostname || rec.Id.slice(0, 12),
    ...(cfg.Domainname ? { domainname: cfg.Domainname } : {}),
    args: [rec.Path, ...rec.Args],
    env: inp.env,
    cwd: inp.cwd,
    terminal: cfg.Tty === true,
    ...(hc.ConsoleSize && hc.ConsoleSize[0] > 0 ? { consoleSize: { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] } } : {}),
    user: { uid: inp.user.uid, gid: inp.user.gid, additionalGids: inp.user.additionalGids },
    capabilities: ociCapabilities(v.caps, { user: isRoot ? 'root' : 'nonroot' }),
    noNewPrivileges,
    rlimits,
    ...(hc.OomScoreAdj ? { oomScoreAdj: hc.OomScoreAdj } : {}),
    namespaces,
    ...(v.ns.userns && d.userns ? { uidMappings: d.userns.uidMappings, gidMappings: d.userns.gidMappings } : {}),
    mounts: [...etc, ...shmMounts, ...inp.mounts],
    shmSize: hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : d.shmSize,
    privileged,
    devices: inp.devices.map((x) => x.node),
    resources,
    sysctl,
    ...(inp.seccomp.spec ? { seccomp: inp.seccomp.spec } : {}),
    maskedPaths: paths.maskedPaths,
    readonlyPaths: paths.readonlyPaths,
    cgroupsPath: `${d.cgroupParent}/${rec.Id}`,
    noShm: ipcNone || v.ns.ipc.kind === 'host',
    sysReadOnly: paths.sysReadOnly,
    cgroupReadOnly: paths.sysReadOnly && !v.ns.userns,
  };
  const security = securitySummary(rec, v, inp.seccomp, d);
  return { plan, security, warnings: [...v.warnings, ...planned.warnings.filter((w) => !v.warnings.includes(w))] };
}

/** What moat decided about a container's security, as inspect shows it (also before start). */
export function securitySummary(rec: Pick<ContainerRecord, 'HostConfig'>, v: ValidatedHostConfig, seccomp: ContainerSeccomp, d: DaemonDefaults): SecuritySummary {
  const hc = rec.HostConfig;
  const paths = systemPaths({
    privileged: hc.Privileged === true,
    systempathsUnconfined: v.security.systempathsUnconfined === true,
    maskedPaths: hc.MaskedPaths ?? null,
    readonlyPaths: hc.ReadonlyPaths ?? null,
  });
  const nsView = (r: NsRequest): string => (r.kind === 'container' ? `container:${r.ref}` : r.kind);
  return {
    Capabilities: v.caps,
    Seccomp: {
      Profile: seccomp.name,
      ...(seccomp.sha256 ? { Sha256: seccomp.sha256 } : {}),
      ...(seccomp.explainer ? { Explainer: seccomp.explainer } : {}),
      ...(seccomp.allow && seccomp.allow.length > 0 ? { Allow: seccomp.allow } : {}),
      ...(seccomp.deny && seccomp.deny.length > 0 ? { Deny: seccomp.deny } : {}),
    },
    Namespaces: {
      pid: nsView(v.ns.pid),
      ipc: nsView(v.ns.ipc),
      uts: nsView(v.ns.uts),
      network: nsView(v.ns.network),
      cgroup: nsView(v.ns.cgroup),
      mount: 'private',
      user: v.ns.userns ? 'remapped' : 'host',
    },
    PidsLimit: effectivePidsLimit(hc.PidsLimit, { defaultPidsLimit: d.pidsLimit }),
    MaskedPaths: paths.maskedPaths,
    ReadonlyPaths: paths.readonlyPaths,
    NoNewPrivileges: v.security.noNewPrivileges ?? d.noNewPrivileges,
    ...(v.ns.userns && d.userns
      ? {
          UidMap: d.userns.uidMappings.map((m) => ({ ContainerID: m.containerID, HostID: m.hostID, Size: m.size })),
          GidMap: d.userns.gidMappings.map((m) => ({ ContainerID: m.containerID, HostID: m.hostID, Size: m.size })),
        }
      : {}),
  };
}

/**
 * HostConfig fields this engine enforces. The API refuses any other known field when it
 * is set, so an option is never accepted and silently ignored.
 */
export const ENFORCED_HOST_FIELDS: ReadonlySet<string> = new Set([
  'AutoRemove', 'CapAdd', 'CapDrop', 'Privileged', 'PidsLimit', 'ReadonlyRootfs', 'SecurityOpt', 'Dns', 'DnsOptions',
  'DnsSearch', 'ExtraHosts', 'GroupAdd', 'ShmSize', 'MaskedPaths', 'ReadonlyPaths', 'ConsoleSize', 'LogConfig',
  'Binds', 'Mounts', 'Tmpfs', 'NetworkMode', 'PidMode', 'IpcMode', 'UTSMode', 'CgroupnsMode', 'UsernsMode', 'Sysctls',
  'Ulimits', 'Devices', 'DeviceCgroupRules', 'Memory', 'MemorySwap', 'MemoryReservation', 'MemorySwappiness',
  'OomKillDisable', 'OomScoreAdj', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems',
  'BlkioWeight', 'Config.Volumes',
]);
