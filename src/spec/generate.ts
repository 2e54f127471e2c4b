// Container plan -> OCI runtime spec. Pure: every decision (capabilities, seccomp, limits,
// mounts) is made before this point; this module only lays them out as runc expects.
import type { LinuxSeccomp } from '../seccomp/index.js';
import type {
  IdMapping,
  LinuxCapabilities,
  LinuxDevice,
  LinuxResources,
  Mount,
  Namespace,
  NamespaceType,
  Process,
  Rlimit,
  Spec,
} from './types.js';

/** How one namespace is set up: a new one, the host's, or joined from a path. */
export type NamespaceMode = { kind: 'private' } | { kind: 'host' } | { kind: 'path'; path: string };

export interface RunPlan {
  rootfs: string;
  readonlyRootfs: boolean;
  hostname: string;
  domainname?: string;
  args: string[];
  env: string[];
  cwd: string;
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; additionalGids: number[] };
  capabilities: LinuxCapabilities;
  noNewPrivileges: boolean;
  rlimits: Rlimit[];
  oomScoreAdj?: number;
  namespaces: Partial<Record<NamespaceType, NamespaceMode>>;
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  /** Extra mounts (binds, volumes, tmpfs, /etc files), in order. */
  mounts: Mount[];
  shmSize: number;
  privileged: boolean;
  devices: LinuxDevice[];
  resources: LinuxResources;
  sysctl: Record<string, string>;
  seccomp?: LinuxSeccomp;
  maskedPaths: string[];
  readonlyPaths: string[];
  cgroupsPath: string;
  annotations?: Record<string, string>;
  /** No /dev/shm tmpfs (--ipc none, or host: the host's is bound instead). */
  noShm?: boolean;
  /** /sys read-only (false only when privileged). */
  sysReadOnly?: boolean;
  /** The cgroup mount read-only (a user namespace cannot remount it read-only). */
  cgroupReadOnly?: boolean;
}

const NS_ORDER: NamespaceType[] = ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup', 'user'];

function namespacesOf(plan: RunPlan): Namespace[] {
  const out: Namespace[] = [];
  for (const type of NS_ORDER) {
    const mode = plan.namespaces[type];
    if (mode === undefined || mode.kind === 'host') continue;
    out.push(mode.kind === 'path' ? { type, path: mode.path } : { type });
  }
  return out;
}

/** The mounts every container gets, as runc's and Docker's defaults. */
export function baseMounts(plan: Pick<RunPlan, 'shmSize' | 'privileged' | 'namespaces' | 'noShm' | 'sysReadOnly' | 'cgroupReadOnly'>): Mount[] {
  const sysRo = plan.sysReadOnly ?? !plan.privileged;
  const cgroupRo = plan.cgroupReadOnly ?? sysRo;
  const sysOpts = sysRo ? ['nosuid', 'noexec', 'nodev', 'ro'] : ['nosuid', 'noexec', 'nodev'];
  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: sysOpts },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', cgroupRo ? 'ro' : 'rw'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  ];
  if (plan.noShm !== true) {
    mounts.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${plan.shmSize}`] });
  }
  return mounts;
}

/**
 * Lay out a run plan as an OCI runtime spec (version 1.0.2, what runc 1.1 reads).
 *
 * @example
 * const spec = generateSpec(plan); // write to <bundle>/config.json
 */
export function generateSpec(plan: RunPlan): Spec {
  const mounts = [...baseMounts(plan), ...plan.mounts];
  const spec: Spec = {
    ociVersion: '1.0.2',
    process: {
      terminal: plan.terminal,
      user: { uid: plan.user.uid, gid: plan.user.gid, ...(plan.user.additionalGids.length > 0 ? { additionalGids: plan.user.additionalGids } : {}) },
      args: plan.args,
      env: plan.env,
      cwd: plan.cwd,
      capabilities: plan.capabilities,
      rlimits: plan.rlimits,
      noNewPrivileges: plan.noNewPrivileges,
      ...(plan.consoleSize !== undefined && plan.terminal ? { consoleSize: plan.consoleSize } : {}),
      ...(plan.oomScoreAdj !== undefined && plan.oomScoreAdj !== 0 ? { oomScoreAdj: plan.oomScoreAdj } : {}),
    },
    root: { path: plan.rootfs, readonly: plan.readonlyRootfs },
    ...(plan.namespaces.uts?.kind === 'host' ? {} : { hostname: plan.hostname }),
    ...(plan.domainname ? { domainname: plan.domainname } : {}),
    mounts,
    ...(plan.annotations ? { annotations: plan.annotations } : {}),
    linux: {
      namespaces: namespacesOf(plan),
      ...(plan.uidMappings ? { uidMappings: plan.uidMappings } : {}),
      ...(plan.gidMappings ? { gidMappings: plan.gidMappings } : {}),
      devices: plan.devices,
      cgroupsPath: plan.cgroupsPath,
      resources: plan.resources,
      sysctl: plan.sysctl,
      ...(plan.seccomp ? { seccomp: plan.seccomp } : {}),
      maskedPaths: plan.maskedPaths,
      readonlyPaths: plan.readonlyPaths,
      rootfsPropagation: 'rprivate',
    },
  };
  return spec;
}

/** The container's part of an exec's process: what the exec inherits from the container. */
export interface ExecProcessBase {
  /** The container's capabilities (its bounding set). */
  capabilities: readonly string[];
  rlimits: Rlimit[];
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
  /** The container's terminal size, kept when the exec brings none. */
  consoleSize?: { height: number; width: number };
}

/**
 * The process an exec runs in a container (what `runc exec --process` reads): the
 * container's capabilities (effective and permitted only for root), limits and
 * no_new_privs, the exec's own command, user, environment, cwd and terminal.
 *
 * @example
 * execProcessSpec({ capabilities: ['CAP_CHOWN'], rlimits: [], noNewPrivileges: false }, { user, args: ['sh'], env, cwd: '/', terminal: false });
 */
export function execProcessSpec(
  container: ExecProcessBase,
  exec: { user: { uid: number; gid: number; additionalGids: number[] }; args: string[]; env: string[]; cwd: string; terminal: boolean; consoleSize?: { height: number; width: number } },
): Process {
  const caps = [...container.capabilities];
  const consoleSize = exec.consoleSize ?? container.consoleSize;
  return {
    terminal: exec.terminal,
    user: { uid: exec.user.uid, gid: exec.user.gid, ...(exec.user.additionalGids.length ? { additionalGids: exec.user.additionalGids } : {}) },
    args: exec.args,
    env: exec.env,
    cwd: exec.cwd,
    capabilities: exec.user.uid === 0 ? { bounding: caps, effective: caps, permitted: caps } : { bounding: caps, effective: [], permitted: [] },
    rlimits: container.rlimits,
    noNewPrivileges: container.noNewPrivileges,
    ...(consoleSize ? { consoleSize } : {}),
    ...(container.oomScoreAdj ? { oomScoreAdj: container.oomScoreAdj } : {}),
  };
}
