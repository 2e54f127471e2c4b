// A container's stored plan + what only the host can tell at start (the user from the
// image's /etc/passwd, device numbers, joined namespaces, mount sources) → the run plan
// spec/ lays out as config.json, and the process an exec runs. Pure; no checks of the
// request here (create made them): only conditions of the host at start can fail.
import { invalid } from '../base/index.js';
import { ociCapabilities } from '../caps/index.js';
import {
  blockIOFor,
  defaultSysctls,
  deviceCgroupRules,
  ulimitsToRlimits,
  type LinuxDevice,
  type Mount,
  type NamespaceMode,
  type Process,
  type ResolvedDevice,
  type ResolvedUser,
  type RunPlan,
  execProcessSpec,
} from '../spec/index.js';
import { containerCgroupPath } from './cgroup-parents.js';
import { INIT_PATH_IN_CONTAINER, usesInit, type DaemonDefaults } from './plan.js';
import type { ContainerSeccomp } from './seccomp-policy.js';
import type { ContainerPlan, ContainerRecord, NsRequest } from './types.js';
import { daemonEnv, replaceOrAppendEnv } from './util.js';

/** What the host told start about the container. */
export interface HostFacts {
  rootfs: string;
  user: ResolvedUser;
  env: string[];
  cwd: string;
  /** /etc/hostname, /etc/hosts, /etc/resolv.conf binds. */
  etcMounts: Mount[];
  /** The plan's mounts as OCI mounts, sources resolved on the host (staged binds, volume dirs). */
  mounts: Mount[];
  /** --device entries (all host devices when privileged), stat()ed on the host. */
  devices: Array<{ node: LinuxDevice; cgroup: ResolvedDevice }>;
  /** The device numbers of the block devices the plan's blkio settings name (by path). */
  blockDevices?: ReadonlyMap<string, { major: number; minor: number }>;
  /** /proc/<pid>/ns/<type> paths of containers joined with container:X. */
  joined: Partial<Record<'pid' | 'ipc' | 'network', string>>;
  /** The joined container's user namespace, under remap (Docker joins it too). */
  joinedUserns?: string | undefined;
  /** The container's own network namespace, made before the runtime's create (networking prepare). */
  netns?: string;
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

/**
 * The run plan of a start.
 *
 * @example
 * const plan = runPlan(record, planOf(record, defaults), facts, defaults);
 * await pending.create(generateSpec(plan)); // pending = runtime.beginCreate(...)
 */
export function runPlan(rec: ContainerRecord, p: ContainerPlan, f: HostFacts, d: DaemonDefaults): RunPlan {
  const hc = rec.HostConfig;
  const cfg = rec.Config;
  const privileged = hc.Privileged === true;
  const ns = p.namespaces;
  const namespaces: RunPlan['namespaces'] = {
    pid: nsModeFor(ns.pid, f.joined.pid),
    network: ns.network.kind === 'private' && f.netns !== undefined ? { kind: 'path', path: f.netns } : nsModeFor(ns.network, f.joined.network),
    ipc: nsModeFor(ns.ipc, f.joined.ipc),
    uts: nsModeFor(ns.uts, undefined),
    mount: { kind: 'private' },
    cgroup: nsModeFor(ns.cgroup, undefined),
  };
  if (ns.userns) namespaces.user = f.joinedUserns ? { kind: 'path', path: f.joinedUserns } : { kind: 'private' };
  const resources = { ...p.resources, devices: deviceCgroupRules({ privileged, devices: f.devices.map((x) => x.cgroup), rules: hc.DeviceCgroupRules ?? null }) };
  const blockIO = blockIOFor(p.resources.blockIO, p.blockDevices ?? {}, f.blockDevices ?? new Map());
  if (blockIO !== undefined) resources.blockIO = blockIO;
  // A user mount replaces a default mount on the same destination (Docker's mount filtering).
  const userTargets = new Set(f.mounts.map((m) => m.destination));
  const etc = f.etcMounts.filter((m) => !userTargets.has(m.destination));
  const init = usesInit(hc, d) && d.initBinary !== undefined;
  const initMounts: Mount[] = init ? [{ destination: INIT_PATH_IN_CONTAINER, type: 'bind', source: d.initBinary!, options: ['rbind', 'ro', 'nosuid', 'nodev', 'rprivate'] }] : [];
  const shmMounts: Mount[] = ns.ipc.kind === 'host' ? [{ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] }] : [];
  // The NIS domain name as dockerd sets it: a sysctl, which runc 1.1 applies (it ignores the
  // spec's `domainname`, which runc 1.2 reads); a --sysctl of the container's own wins.
  const domain = cfg.Domainname && ns.uts.kind !== 'host' ? { 'kernel.domainname': cfg.Domainname } : {};
  const sysctl = { ...defaultSysctls({ netMode: ns.network.kind === 'host' ? 'host' : ns.network.kind === 'container' ? 'container:x' : 'private', userns: ns.userns }), ...domain, ...p.sysctls };
  return {
    rootfs: f.rootfs,
    readonlyRootfs: hc.ReadonlyRootfs === true,
    hostname: cfg.Hostname || rec.Id.slice(0, 12),
    ...(cfg.Domainname ? { domainname: cfg.Domainname } : {}),
    // --init: tini (read-only, as Docker's docker-init) is PID 1, reaps zombies and forwards signals.
    // Annotations go to the runtime spec, as Docker passes them (stored and shown by inspect; size-checked at create).
    ...(hc.Annotations && Object.keys(hc.Annotations).length > 0 ? { annotations: { ...hc.Annotations } } : {}),
    args: init ? [INIT_PATH_IN_CONTAINER, '--', rec.Path, ...rec.Args] : [rec.Path, ...rec.Args],
    env: f.env,
    cwd: f.cwd,
    terminal: cfg.Tty === true,
    ...(hc.ConsoleSize && hc.ConsoleSize[0] > 0 ? { consoleSize: { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] } } : {}),
    user: { uid: f.user.uid, gid: f.user.gid, additionalGids: f.user.additionalGids },
    capabilities: ociCapabilities(p.capabilities, { user: f.user.uid === 0 ? 'root' : 'nonroot' }),
    noNewPrivileges: p.noNewPrivileges,
    rlimits: ulimitsToRlimits(p.ulimits),
    ...(hc.OomScoreAdj ? { oomScoreAdj: hc.OomScoreAdj } : {}),
    namespaces,
    ...(ns.userns && d.userns ? { uidMappings: d.userns.uidMappings, gidMappings: d.userns.gidMappings } : {}),
    mounts: byMountDepth([...etc, ...shmMounts, ...initMounts, ...f.mounts]),
    shmSize: p.shmSize,
    privileged,
    devices: f.devices.map((x) => x.node),
    resources,
    sysctl,
    ...(f.seccomp.spec ? { seccomp: f.seccomp.spec } : {}),
    maskedPaths: [...p.maskedPaths],
    readonlyPaths: [...p.readonlyPaths],
    cgroupsPath: containerCgroupPath(d.cgroupParent, rec),
    noShm: ns.ipc.kind === 'none' || ns.ipc.kind === 'host',
    sysReadOnly: p.sysReadOnly,
    cgroupReadOnly: p.sysReadOnly && !ns.userns,
  };
}

/** What `docker exec` asked for (the exec record's fields). */
export interface ExecRequest {
  Cmd: string[];
  Env: string[];
  WorkingDir: string;
  Tty: boolean;
  ConsoleSize?: [number, number];
}

/**
 * Mounts in the order runc must make them: a parent before what is mounted inside it
 * (`/a` before `/a/b`, whatever order the client gave), otherwise as given; moby sorts its
 * mounts by the depth of their destination the same way.
 *
 * @example
 * byMountDepth([{ destination: '/a/b' }, { destination: '/a' }]); // /a, then /a/b
 */
export function byMountDepth<M extends { destination: string }>(mounts: readonly M[]): M[] {
  const depth = (m: M): number => m.destination.split('/').filter((p) => p !== '').length;
  return mounts.map((m, i) => ({ m, i, d: depth(m) })).sort((a, b) => a.d - b.d || a.i - b.i).map((x) => x.m);
}

/**
 * The process an exec runs (runc exec --process), laid out by spec/: the container's
 * capabilities, limits and no_new_privs from its plan, the exec's command, user,
 * environment and terminal.
 *
 * @example
 * const proc = execProcess(record, planOf(record, defaults), exec, resolveUser(exec.User || record.Config.User || '', files));
 */
export function execProcess(rec: ContainerRecord, p: ContainerPlan, e: ExecRequest, user: ResolvedUser, linkEnv: readonly string[] = []): Process {
  const hc = rec.HostConfig;
  const env = execEnv(rec, e, linkEnv);
  return execProcessSpec({
    // The bounding set the container's config.json carries (sorted by bit).
    capabilities: ociCapabilities(p.capabilities, { user: 'root' }).bounding,
    rlimits: ulimitsToRlimits(p.ulimits),
    noNewPrivileges: p.noNewPrivileges,
    ...(hc.OomScoreAdj ? { oomScoreAdj: hc.OomScoreAdj } : {}),
    // The container's own console size stays unless the exec brings one (as runc's config does).
    ...(rec.Config.Tty === true && hc.ConsoleSize && hc.ConsoleSize[0] > 0 ? { consoleSize: { height: hc.ConsoleSize[0], width: hc.ConsoleSize[1] } } : {}),
  }, {
    user,
    args: e.Cmd,
    env,
    cwd: e.WorkingDir || rec.Config.WorkingDir || '/',
    terminal: e.Tty,
    ...(e.Tty && e.ConsoleSize && e.ConsoleSize[0] > 0 ? { consoleSize: { height: e.ConsoleSize[0], width: e.ConsoleSize[1] } } : {}),
  });
}

/**
 * An exec's environment as Docker builds it: the default PATH, HOSTNAME, (with a terminal)
 * TERM and the links' variables, then the container's Env, then the exec's own. An image
 * without Env (an imported one) still gets a PATH, so `docker exec c env` finds its command as
 * `docker run` did.
 *
 * @example
 * execEnv(record, { Env: ['A=1'], Tty: false }); // ['PATH=/usr/local/sbin:…', 'HOSTNAME=abc', …, 'A=1']
 */
export function execEnv(rec: Pick<ContainerRecord, 'Id' | 'Config'>, e: Pick<ExecRequest, 'Env' | 'Tty'>, linkEnv: readonly string[] = []): string[] {
  return replaceOrAppendEnv(daemonEnv(rec, e.Tty === true, linkEnv), e.Env ?? []);
}
