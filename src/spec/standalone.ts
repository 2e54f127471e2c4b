// The run plan moatd makes for a container whose HostConfig sets nothing, for bundles run
// with runc directly: `moat seccomp record` (so that a recorded profile sees what runc's init
// does under moatd's spec), the kernel tests' probe bundles and the workbench's batch probe.
// The same building blocks as the engine's planContainer with its defaults; a unit test
// compares the two. Pure.
import { ociCapabilities, type CapName } from '../caps/index.js';
import type { LinuxSeccomp } from '../seccomp/index.js';
import { generateSpec, type RunPlan } from './generate.js';
import { planResources } from './resources.js';
import { defaultSysctls, deviceCgroupRules, systemPaths, ulimitsToRlimits } from './security.js';
import type { Mount, Spec } from './types.js';

/** moatd's `--default-pids-limit` unless set (Podman's 2048; Docker sets none). */
export const DEFAULT_PIDS_LIMIT = 2048;

/** Size of /dev/shm unless `--shm-size` (Docker's 64 MiB). */
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;

export interface StandaloneRun {
  /** The rootfs path as runc reads it (absolute, or relative to the bundle). */
  readonly rootfs: string;
  readonly readonlyRootfs?: boolean;
  readonly args: readonly string[];
  /** Default: PATH only, as moatd sets it for an image without Env. */
  readonly env?: readonly string[];
  /** Default `/`. */
  readonly cwd?: string;
  /** Default: the last component of `cgroupsPath`, cut to 12 characters (moatd: the short id). */
  readonly hostname?: string;
  /** The container's capabilities (bounding, effective and permitted: the process runs as root). */
  readonly capabilities: readonly CapName[];
  /** Default false, moatd's default (`--no-new-privileges` off). */
  readonly noNewPrivileges?: boolean;
  /** `linux.seccomp`; undefined = unconfined. */
  readonly seccomp?: LinuxSeccomp;
  /** runc's cgroupsPath: relative paths nest under the caller's own cgroup, as moatd's `moat/<id>` do. */
  readonly cgroupsPath: string;
  /** Mounts after the default ones (e.g. a tmpfs on /tmp over a read-only rootfs). */
  readonly mounts?: readonly Mount[];
  /** Default DEFAULT_PIDS_LIMIT; negative = unlimited. */
  readonly pidsLimit?: number;
}

/** PATH as moatd sets it when the image has none (Docker's default). */
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The plan moatd would make for this process with an empty HostConfig and default daemon
 * settings: private pid/network/ipc/uts/mount/cgroup namespaces, the default masked and
 * read-only paths, device rules, pids limit, /dev/shm and the ping sysctl.
 *
 * @example
 * const plan = standaloneRunPlan({ rootfs: 'rootfs', args: ['/probe'], capabilities: MOAT_DEFAULT_CAPS, cgroupsPath: 'moat-test/abc' });
 */
export function standaloneRunPlan(o: StandaloneRun): RunPlan {
  const paths = systemPaths({ privileged: false, systempathsUnconfined: false, maskedPaths: null, readonlyPaths: null });
  const { resources } = planResources({}, { defaultPidsLimit: o.pidsLimit ?? DEFAULT_PIDS_LIMIT });
  resources.devices = deviceCgroupRules({ privileged: false, devices: [], rules: null });
  const leaf = o.cgroupsPath.split('/').pop() ?? '';
  return {
    rootfs: o.rootfs,
    readonlyRootfs: o.readonlyRootfs === true,
    hostname: o.hostname ?? leaf.slice(0, 12),
    args: [...o.args],
    env: [...(o.env ?? [DEFAULT_PATH_ENV])],
    cwd: o.cwd ?? '/',
    terminal: false,
    user: { uid: 0, gid: 0, additionalGids: [] },
    capabilities: ociCapabilities(o.capabilities, { user: 'root' }),
    noNewPrivileges: o.noNewPrivileges === true,
    rlimits: ulimitsToRlimits(null, { defaults: [] }),
    namespaces: { pid: { kind: 'private' }, network: { kind: 'private' }, ipc: { kind: 'private' }, uts: { kind: 'private' }, mount: { kind: 'private' }, cgroup: { kind: 'private' } },
    mounts: [...(o.mounts ?? [])],
    shmSize: DEFAULT_SHM_SIZE,
    privileged: false,
    devices: [],
    resources,
    sysctl: defaultSysctls({ netMode: 'private', userns: false }),
    ...(o.seccomp !== undefined ? { seccomp: o.seccomp } : {}),
    maskedPaths: paths.maskedPaths,
    readonlyPaths: paths.readonlyPaths,
    cgroupsPath: o.cgroupsPath,
    noShm: false,
    sysReadOnly: paths.sysReadOnly,
    cgroupReadOnly: paths.sysReadOnly,
  };
}

/**
 * The OCI config.json for a standalone run, laid out by the same generateSpec as moatd's.
 *
 * @example
 * writeBundleSync(dir, standaloneSpec({ rootfs: 'rootfs', args: ['/probe'], capabilities: [], cgroupsPath: 'moat-test/abc' }));
 */
export function standaloneSpec(o: StandaloneRun): Spec {
  return generateSpec(standaloneRunPlan(o));
}
