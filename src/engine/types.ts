// Container and exec records. The container's configuration keeps Docker's field names
// (Config and HostConfig as the Engine API sends them) because inspect returns it verbatim.
import type { BindSource } from './binds.js';
import type { CapName } from '../caps/index.js';
import type { ContainerConfig, DeviceMapping, HostConfig, MountRequest, NetworkingConfig, Ulimit } from '../docker/index.js';
import type { BlockDeviceLimits, LinuxResources } from '../spec/index.js';

export type { ContainerConfig, HostConfig, DeviceMapping, Ulimit, MountSpec, NetworkingConfig, EndpointConfig } from '../docker/index.js';

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerState {
  Status: ContainerStatus;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  OOMKilled: boolean;
  /** Pid of the conmon that holds this container (moat-specific). */
  ConmonPid?: number;
  /** Present while a container with a healthcheck runs (and after, as Docker keeps it). */
  Health?: ContainerHealth;
}

/** One healthcheck probe, as inspect shows it. */
export interface HealthProbe {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface ContainerHealth {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  /** The last 5 probes, oldest first. */
  Log: HealthProbe[];
}

/** What moat decided about a container's security, shown in inspect. */
export interface SecuritySummary {
  Capabilities: string[];
  Seccomp: { Profile: string; Sha256?: string; Explainer?: string };
  Namespaces: Record<string, string>;
  PidsLimit: number | null;
  MaskedPaths: string[];
  ReadonlyPaths: string[];
  NoNewPrivileges: boolean;
  UidMap?: Array<{ ContainerID: number; HostID: number; Size: number }>;
  GidMap?: Array<{ ContainerID: number; HostID: number; Size: number }>;
}

/** How a container asked for one namespace. */
export type NsRequest = { kind: 'private' } | { kind: 'host' } | { kind: 'container'; ref: string } | { kind: 'none' } | { kind: 'shareable' };

export interface NamespaceRequests {
  pid: NsRequest;
  ipc: NsRequest;
  uts: NsRequest;
  network: NsRequest;
  cgroup: NsRequest;
  /** True when the container runs in the daemon's remapped user namespace. */
  userns: boolean;
}

/**
 * What create decided (plan.ts), from the request, the image and the daemon's defaults,
 * checked once: start turns it into the OCI spec (run-plan.ts) with what only the host can
 * tell (the user in the image's /etc/passwd, device numbers, joined namespaces, staged bind
 * sources). moat-specific, kept in the record, not shown by inspect.
 */
export interface ContainerPlan {
  /** The container's capabilities, before the user decides effective and permitted. */
  capabilities: CapName[];
  namespaces: NamespaceRequests;
  /** Binds, volumes (anonymous ones by the names create gave them) and tmpfs, in mount order. */
  mounts: MountRequest[];
  /** The container's namespaced sysctls (the defaults are added at start). */
  sysctls: Record<string, string>;
  /** The daemon's default ulimits with the container's over them; -1 is unlimited. */
  ulimits: Ulimit[];
  /** `--device` entries, cleaned (stat()ed on the host at start). */
  devices: DeviceMapping[];
  /** linux.resources except the device rules (made at start with the device numbers). */
  resources: LinuxResources;
  /** Per-device block I/O weights and limits by path (numbers looked up at start); absent when none. */
  blockDevices?: BlockDeviceLimits;
  noNewPrivileges: boolean;
  maskedPaths: string[];
  readonlyPaths: string[];
  sysReadOnly: boolean;
  shmSize: number;
}

export interface ContainerRecord {
  Id: string;
  Name: string;
  Created: string;
  /** Image id `sha256:…`. */
  Image: string;
  Path: string;
  Args: string[];
  Config: ContainerConfig;
  HostConfig: HostConfig;
  /** The networks asked for beside NetworkMode, with their endpoint settings (Docker's shape). */
  NetworkingConfig?: NetworkingConfig;
  State: ContainerState;
  RestartCount: number;
  /** Docker's flag: `docker stop` (or kill) ended it, so no restart policy brings it back, not even after a daemon restart. */
  HasBeenManuallyStopped?: boolean;
  /** The last `next-exit` generation: increases on every exit. */
  ExitGeneration: number;
  Security?: SecuritySummary;
  /** Set with "removing" by `rm -v` and `--rm`: a removal a crash interrupted removes them too. */
  RemoveVolumes?: boolean;
  /**
   * Volume names this container created (anonymous) or uses; `inherited` ones came with
   * `--volumes-from` (another container made them; rm -v removes an anonymous one when no
   * other container has it, as moby).
   */
  Volumes?: VolumeUse[];
  /** Bind sources as authorized at create: canonical path, device and inode (checked at every start). */
  BindSources?: BindSource[];
  /** What create decided (see ContainerPlan); absent in records written before plans were kept. */
  Plan?: ContainerPlan;
}

/** A volume a container mounts (see ContainerRecord.Volumes). */
export interface VolumeUse {
  name: string;
  target: string;
  anonymous: boolean;
  noCopy?: boolean;
  inherited?: boolean;
}

export interface ExecRecord {
  ID: string;
  ContainerID: string;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  OpenStdin: boolean;
  OpenStdout: boolean;
  OpenStderr: boolean;
  Tty: boolean;
  Privileged: boolean;
  User: string;
  WorkingDir: string;
  Env: string[];
  Cmd: string[];
  DetachKeys: string;
  ConsoleSize?: [number, number];
  CanRemove: boolean;
}
