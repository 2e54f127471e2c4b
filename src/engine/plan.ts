// A create request + its image + the daemon's defaults → the container's record and its
// plan. Every check of the request is made here, once, at create; the plan (stored in the
// record) is what start turns into an OCI spec (run-plan.ts) without checking again. Pure:
// the engine does the host work (bind sources, volumes, files) around it.
import { invalid } from '../base/index.js';
import { resolveCapabilities, type CapName } from '../caps/index.js';
import { cleanAbsolutePath, parseMountRequests, type ContainerConfig, type DeviceMapping, type HostConfig, type MountRequest, type Ulimit } from '../docker/index.js';
import { systemPaths, validateSysctls, parseSecurityOpts, planResources, effectivePidsLimit, checkDeviceMapping, ulimitsToRlimits, type BlkioSupport, type IdMapping, type LinuxResources } from '../spec/index.js';
import { effectiveLogConfig, type DaemonLogConfig } from './log-config.js';
import type { ContainerSeccomp } from './seccomp-policy.js';
import type { BindSource } from './binds.js';
import type { ContainerPlan, ContainerRecord, NamespaceRequests, NsRequest, SecuritySummary, VolumeUse } from './types.js';
import { mergeConfigEnv, mergeKeys } from './util.js';
import { parseSignal } from './signals.js';
import { checkHealthcheck, mergeHealthcheck, type HealthConfig } from './health.js';

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
  /** The daemon's `--init` default. */
  init?: boolean;
  /** The init binary (Debian's tini-static) when present on the host. */
  initBinary?: string;
  /** What the host's block I/O controller can apply (absent: all of it). */
  blkio?: BlkioSupport;
}

/** Where the init binary appears in a container (Docker's path). */
export const INIT_PATH_IN_CONTAINER = '/sbin/docker-init';

/** Whether a container runs with an init: its own HostConfig.Init, else the daemon's default. */
export function usesInit(hc: Pick<HostConfig, 'Init'>, d: Pick<DaemonDefaults, 'init'>): boolean {
  return hc.Init ?? d.init ?? false;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

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

/**
 * NetworkMode: `none`, `host`, `container:X`, or a network (`bridge`, `default`, a user
 * network's name or id: a namespace of its own, which the networking seam attaches).
 */
function networkModeRequest(mode: string | undefined): NsRequest {
  const v = mode ?? '';
  if (v === 'none') return { kind: 'none' };
  if (v === 'host' || v.startsWith('container:')) return parseNsMode('NetworkMode', v, ['host', 'container']);
  if (v !== '' && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(v)) throw invalid(`invalid NetworkMode: ${v}`);
  return { kind: 'private' };
}

/** The namespace each HostConfig mode asks for, validated (Docker's modes, §7.2). */
export function namespaceRequests(hc: HostConfig, d: Pick<DaemonDefaults, 'userns'>): NamespaceRequests {
  const pid = parseNsMode('PidMode', hc.PidMode, ['host', 'container']);
  const ipc = parseNsMode('IpcMode', hc.IpcMode, ['host', 'container', 'none', 'shareable']);
  const uts = parseNsMode('UTSMode', hc.UTSMode, ['host']);
  const network = networkModeRequest(hc.NetworkMode);
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

/** `container:X` as the mode is written back (Namespaces in inspect, sysctl checks). */
export const nsView = (r: NsRequest): string => (r.kind === 'container' ? `container:${r.ref}` : r.kind);

/**
 * Every check of a HostConfig that needs no host access, made once at create (a bad option
 * creates nothing), and what start needs of it. Anonymous volumes are left out (planVolumes
 * names them).
 */
function planHostConfig(hc: HostConfig, d: DaemonDefaults): { plan: Omit<ContainerPlan, 'mounts'>; mounts: MountRequest[]; warnings: string[]; discarded: Array<'BlkioWeight' | 'BlkioWeightDevice'> } {
  const capabilities = containerCapabilities(hc, d);
  const security = parseSecurityOpts(hc.SecurityOpt);
  if (security.apparmor !== undefined && security.apparmor !== 'unconfined') {
    throw invalid(`apparmor profile ${JSON.stringify(security.apparmor)} cannot be applied: this kernel has no AppArmor`);
  }
  if (security.label !== undefined && security.label.some((l) => l !== 'disable')) {
    throw invalid('SELinux labels cannot be applied: this kernel has no SELinux');
  }
  const namespaces = namespaceRequests(hc, d);
  const mounts = parseMountRequests({ Binds: hc.Binds ?? null, Mounts: hc.Mounts ?? null, Tmpfs: hc.Tmpfs ?? null });
  for (const m of mounts) {
    if (m.target === '/') throw invalid('invalid mount config: destination can\'t be \'/\'');
  }
  const sysctls = validateSysctls(hc.Sysctls ?? null, { ipcMode: nsView(namespaces.ipc), netMode: nsView(namespaces.network), utsMode: nsView(namespaces.uts) });
  const merged = new Map<string, Ulimit>();
  for (const u of [...d.defaultUlimits, ...(hc.Ulimits ?? [])]) merged.set(u.Name, { Name: u.Name, Soft: u.Soft, Hard: u.Hard });
  const ulimits = [...merged.values()];
  ulimitsToRlimits(ulimits);
  const devices: DeviceMapping[] = (hc.Devices ?? []).map((dev) => checkDeviceMapping(dev));
  const planned = planResources(hc, { defaultPidsLimit: d.pidsLimit, numCpus: d.numCpus, blkio: d.blkio });
  if (hc.ShmSize !== undefined && hc.ShmSize < 0) throw invalid('SHM size can not be less than 0');
  // The kernel refuses anything else when runc writes /proc/self/oom_score_adj: a 400 now,
  // not a container that can never start (moby daemon/daemon_unix.go wording).
  if (hc.OomScoreAdj !== undefined && (hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000)) {
    throw invalid(`Invalid value ${hc.OomScoreAdj}, range for oom score adj is [-1000, 1000]`);
  }
  const paths = systemPaths({ privileged: hc.Privileged === true, systempathsUnconfined: security.systempathsUnconfined === true, maskedPaths: hc.MaskedPaths ?? null, readonlyPaths: hc.ReadonlyPaths ?? null });
  const resources: LinuxResources = { ...planned.resources };
  delete resources.devices; // made at start, with the host's device numbers
  return {
    plan: {
      capabilities,
      namespaces,
      sysctls,
      ulimits,
      devices,
      resources,
      ...(Object.keys(planned.blockDevices).length > 0 ? { blockDevices: planned.blockDevices } : {}),
      noNewPrivileges: security.noNewPrivileges ?? d.noNewPrivileges,
      maskedPaths: paths.maskedPaths,
      readonlyPaths: paths.readonlyPaths,
      sysReadOnly: paths.sysReadOnly,
      shmSize: hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : d.shmSize,
    },
    mounts,
    warnings: planned.warnings,
    discarded: planned.discarded,
  };
}

export interface CreateInputs {
  id: string;
  name: string;
  created: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  image: { id: string; config: { config: ImageConfigFields } };
}

/** What an image's config contributes to a container's. */
export interface ImageConfigFields {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number | null;
  Healthcheck?: HealthConfig | null;
  ExposedPorts?: Record<string, object> | null;
  Volumes?: Record<string, object> | null;
}

/**
 * The new container's record (image config merged in, as Docker does), its plan without
 * volumes (planVolumes adds them) and Docker's warnings. Throws the create's 400s.
 *
 * @example
 * const { record, mounts } = planContainer(inputs, defaults, logConfig, seccomp);
 */
export function planContainer(
  inp: CreateInputs,
  d: DaemonDefaults,
  logConfig: DaemonLogConfig,
  seccompOf: (rec: Pick<ContainerRecord, 'HostConfig'>, caps: readonly string[]) => ContainerSeccomp,
): { record: ContainerRecord; mounts: MountRequest[]; warnings: string[] } {
  const cfg = inp.config;
  const imgCfg = inp.image.config.config;
  // `--entrypoint ''` (the CLI sends [""]) resets the image's entrypoint and does not take its Cmd either (moby's merge, then reset).
  const resetEntrypoint = cfg.Entrypoint?.length === 1 && cfg.Entrypoint[0] === '';
  const entrypoint = resetEntrypoint ? [] : cfg.Entrypoint !== undefined && cfg.Entrypoint !== null ? cfg.Entrypoint : imgCfg.Entrypoint ?? [];
  const cmd = cfg.Cmd !== undefined && cfg.Cmd !== null && cfg.Cmd.length > 0 ? cfg.Cmd : cfg.Entrypoint ? [] : imgCfg.Cmd ?? [];
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) throw invalid('No command specified');
  // moby's create check: a stop signal that does not parse would fail every later stop.
  if (cfg.StopSignal) parseSignal(cfg.StopSignal, 15);
  checkHealthcheck(cfg.Healthcheck as HealthConfig | null | undefined);
  const healthcheck = mergeHealthcheck(cfg.Healthcheck as HealthConfig | null | undefined, imgCfg.Healthcheck);
  const hc: HostConfig = { ...inp.hostConfig, LogConfig: effectiveLogConfig(inp.hostConfig.LogConfig, logConfig) };
  const record: ContainerRecord = {
    Id: inp.id,
    Name: `/${inp.name}`,
    Created: inp.created,
    Image: inp.image.id,
    Path: argv[0]!,
    Args: argv.slice(1),
    Config: {
      ...cfg,
      Hostname: cfg.Hostname || inp.id.slice(0, 12),
      Env: mergeConfigEnv(imgCfg.Env ?? [], cfg.Env ?? []),
      Cmd: cmd.length > 0 ? cmd : null,
      Entrypoint: entrypoint.length > 0 ? entrypoint : null,
      // The image's EXPOSE and VOLUME count too: `-P` publishes them, each VOLUME is an anonymous volume.
      ExposedPorts: mergeKeys(imgCfg.ExposedPorts, cfg.ExposedPorts),
      Volumes: mergeKeys(imgCfg.Volumes, cfg.Volumes),
      WorkingDir: cfg.WorkingDir || imgCfg.WorkingDir || '',
      User: cfg.User || imgCfg.User || '',
      Labels: { ...(imgCfg.Labels ?? {}), ...(cfg.Labels ?? {}) },
      ...(cfg.StopSignal || imgCfg.StopSignal ? { StopSignal: cfg.StopSignal || imgCfg.StopSignal } : {}),
      ...(healthcheck ? { Healthcheck: healthcheck } : {}),
      // A committed image can carry StopTimeout (moby's image config); the container's wins.
      ...(typeof cfg.StopTimeout !== 'number' && typeof imgCfg.StopTimeout === 'number' ? { StopTimeout: imgCfg.StopTimeout } : {}),
    },
    HostConfig: hc,
    State: { Status: 'created', Pid: 0, ExitCode: 0, Error: '', StartedAt: ZERO_TIME, FinishedAt: ZERO_TIME, OOMKilled: false },
    RestartCount: 0,
    ExitGeneration: 0,
  };
  if (usesInit(hc, d) && d.initBinary === undefined) throw invalid('--init: the init binary is not on this host (install Debian\'s tini: /usr/bin/tini-static)');
  const checked = planHostConfig(hc, d);
  // What the host cannot apply and dockerd drops with a warning is stored unset, as dockerd stores it.
  if (checked.discarded.includes('BlkioWeight')) hc.BlkioWeight = 0;
  if (checked.discarded.includes('BlkioWeightDevice')) hc.BlkioWeightDevice = [];
  // The seccomp options are checked by the code that builds the filter.
  record.Security = securitySummary(record, { ...checked.plan, mounts: checked.mounts }, seccompOf(record, checked.plan.capabilities), d);
  record.Plan = { ...checked.plan, mounts: checked.mounts };
  return { record, mounts: checked.mounts, warnings: checked.warnings };
}

/** A `--volumes-from` source as the create found it: its record, its plan, and whether the entry said `ro`. */
export interface VolumesFromSource {
  record: Pick<ContainerRecord, 'Id' | 'Volumes' | 'BindSources'>;
  plan: Pick<ContainerPlan, 'mounts'>;
  readOnly: boolean;
}

/**
 * `--volumes-from`: each source container's binds and volumes at the same targets, added to
 * the new container's plan as moby's registerMountPoints does: a later source replaces an
 * earlier one at a target, the container's own Binds and Mounts replace both, and an image
 * VOLUME or `-v /path` is not made where one lands (planVolumes runs next). A mount is
 * read-only when the source's is or the entry says `ro`; a volume gets no copy-up (it holds
 * its owner's content). Each bind keeps the identity its source recorded at create, so what
 * was authorized for the source is what is mounted; `unpinned` lists binds whose source has
 * none recorded (a record from before the check), to be identified now.
 *
 * @example
 * const { bindSources, volumes, unpinned } = inheritMounts(rec, [{ record: src, plan: planOf(src, d), readOnly: true }]);
 */
export function inheritMounts(record: ContainerRecord, sources: readonly VolumesFromSource[]): { bindSources: BindSource[]; volumes: VolumeUse[]; unpinned: MountRequest[] } {
  const plan = record.Plan!;
  const own = new Set(plan.mounts.map((m) => m.target));
  const byTarget = new Map<string, { m: MountRequest; from: VolumesFromSource }>();
  for (const from of sources) {
    for (const m of from.plan.mounts) {
      if (m.kind === 'tmpfs' || own.has(m.target)) continue;
      byTarget.delete(m.target); // the later source's mount, in its own place in the order
      // Not a `-v` of this container: a missing bind source is not made, and inspect shows no mode (moby).
      const copy: MountRequest = { ...m, readOnly: m.readOnly || from.readOnly, origin: 'Mounts' };
      if (m.kind === 'volume') copy.noCopy = true;
      byTarget.set(m.target, { m: copy, from });
    }
  }
  const bindSources: BindSource[] = [];
  const volumes: VolumeUse[] = [];
  const unpinned: MountRequest[] = [];
  for (const { m, from } of byTarget.values()) {
    if (m.kind === 'bind') {
      const pin = from.record.BindSources?.find((b) => b.Target === m.target && b.Source === m.source);
      if (pin) bindSources.push({ ...pin });
      else unpinned.push(m);
    } else {
      const use = from.record.Volumes?.find((v) => v.name === m.source && v.target === m.target);
      volumes.push({ name: m.source, target: m.target, anonymous: use?.anonymous ?? false, noCopy: true, inherited: true });
    }
  }
  record.Plan = { ...plan, mounts: [...plan.mounts, ...[...byTarget.values()].map((x) => x.m)] };
  return { bindSources, volumes, unpinned };
}

/**
 * The volumes a new container mounts: named ones, anonymous ones (Config.Volumes `-v
 * /path`, `--mount type=volume` without a source) named now with `newName()`, as Docker does,
 * and those `--volumes-from` brought (`inherited`, from inheritMounts; already in the plan).
 * Sets `record.Volumes` and the plan's mounts (anonymous volumes by their new names, after
 * the other mounts). Throws a 400 for a relative anonymous volume path.
 */
export function planVolumes(record: ContainerRecord, newName: () => string, inherited: readonly VolumeUse[] = []): void {
  const plan = record.Plan!;
  const requested = plan.mounts;
  const mounted = new Set(requested.map((m) => m.target));
  const fromOthers = new Set(inherited.map((v) => v.target));
  const declared = Object.keys(record.Config.Volumes ?? {});
  for (const t of declared) {
    if (!t.startsWith('/')) throw invalid(`invalid volume specification: '${t}': mount path must be absolute`);
    if (cleanAbsolutePath(t) === '/') throw invalid(`invalid volume specification: '${t}': destination can't be '/'`);
  }
  // Cleaned, once each: an image's `/data/` and a `-v /data` are one volume, as in moby.
  const anonTargets = [...new Set([...requested.filter((m) => m.kind === 'volume' && m.source === '').map((m) => m.target), ...declared.map(cleanAbsolutePath).filter((t) => !mounted.has(t))])];
  record.Volumes = [
    ...requested.filter((m) => m.kind === 'volume' && m.source !== '' && !fromOthers.has(m.target)).map((m) => ({ name: m.source, target: m.target, anonymous: false })),
    ...inherited,
    ...anonTargets.map((t) => ({ name: newName(), target: t, anonymous: true, ...(requested.some((m) => m.target === t && m.noCopy === true) ? { noCopy: true } : {}) })),
  ];
  record.Plan = { ...plan, mounts: withAnonymousVolumes(requested, record.Volumes) };
}

/** The mounts start makes: the requests with anonymous volumes replaced by the named ones create made. */
function withAnonymousVolumes(requests: readonly MountRequest[], volumes: readonly VolumeUse[]): MountRequest[] {
  const out: MountRequest[] = requests.filter((m) => !(m.kind === 'volume' && m.source === ''));
  for (const v of volumes) {
    if (v.anonymous && v.inherited !== true) out.push({ kind: 'volume', source: v.name, target: v.target, readOnly: false, propagation: 'rprivate', options: [], origin: 'Mounts', ...(v.noCopy ? { noCopy: true } : {}) });
  }
  return out;
}

/**
 * A container's plan: the one its create stored, or, for a record written before plans were
 * stored, the same plan made from its HostConfig now (with the daemon's current defaults).
 */
export function planOf(rec: ContainerRecord, d: DaemonDefaults): ContainerPlan {
  if (rec.Plan !== undefined) return rec.Plan;
  const checked = planHostConfig(rec.HostConfig, d);
  return { ...checked.plan, mounts: withAnonymousVolumes(checked.mounts, rec.Volumes ?? []) };
}

/** What moat decided about a container's security, as inspect shows it (also before start). */
export function securitySummary(rec: Pick<ContainerRecord, 'HostConfig'>, plan: ContainerPlan, seccomp: ContainerSeccomp, d: DaemonDefaults): SecuritySummary {
  const ns = plan.namespaces;
  return {
    Capabilities: [...plan.capabilities],
    Seccomp: {
      Profile: seccomp.name,
      ...(seccomp.sha256 ? { Sha256: seccomp.sha256 } : {}),
      ...(seccomp.explainer ? { Explainer: seccomp.explainer } : {}),
      ...(seccomp.allow && seccomp.allow.length > 0 ? { Allow: seccomp.allow } : {}),
      ...(seccomp.deny && seccomp.deny.length > 0 ? { Deny: seccomp.deny } : {}),
    },
    Namespaces: {
      pid: nsView(ns.pid),
      ipc: nsView(ns.ipc),
      uts: nsView(ns.uts),
      network: nsView(ns.network),
      cgroup: nsView(ns.cgroup),
      mount: 'private',
      user: ns.userns ? 'remapped' : 'host',
    },
    PidsLimit: effectivePidsLimit(rec.HostConfig.PidsLimit, { defaultPidsLimit: d.pidsLimit }),
    MaskedPaths: [...plan.maskedPaths],
    ReadonlyPaths: [...plan.readonlyPaths],
    NoNewPrivileges: plan.noNewPrivileges,
    ...(ns.userns && d.userns
      ? {
          UidMap: d.userns.uidMappings.map((m) => ({ ContainerID: m.containerID, HostID: m.hostID, Size: m.size })),
          GidMap: d.userns.gidMappings.map((m) => ({ ContainerID: m.containerID, HostID: m.hostID, Size: m.size })),
        }
      : {}),
  };
}
