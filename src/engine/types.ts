// Container and exec records. The container's configuration keeps Docker's field names
// (Config and HostConfig as the Engine API sends them) because inspect returns it verbatim.
import type { BindSource } from './binds.js';

export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: Record<string, object> | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: unknown;
  Image: string;
  Volumes?: Record<string, object> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  StopTimeout?: number | null;
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

export interface MountSpec {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean } | null;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number } | null;
}

export interface HostConfig {
  Binds?: string[] | null;
  NetworkMode?: string;
  RestartPolicy?: { Name: string; MaximumRetryCount?: number };
  AutoRemove?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  CgroupnsMode?: string;
  Dns?: string[] | null;
  DnsOptions?: string[] | null;
  DnsSearch?: string[] | null;
  ExtraHosts?: string[] | null;
  GroupAdd?: string[] | null;
  IpcMode?: string;
  PidMode?: string;
  Privileged?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  Tmpfs?: Record<string, string> | null;
  UTSMode?: string;
  UsernsMode?: string;
  ShmSize?: number;
  Sysctls?: Record<string, string> | null;
  ConsoleSize?: [number, number];
  CpuShares?: number;
  Memory?: number;
  NanoCpus?: number;
  BlkioWeight?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  Devices?: DeviceMapping[] | null;
  DeviceCgroupRules?: string[] | null;
  MemoryReservation?: number;
  MemorySwap?: number;
  MemorySwappiness?: number | null;
  OomKillDisable?: boolean | null;
  OomScoreAdj?: number;
  PidsLimit?: number | null;
  Ulimits?: Ulimit[] | null;
  Mounts?: MountSpec[] | null;
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
  Init?: boolean | null;
  LogConfig?: { Type: string; Config?: Record<string, string> };
}

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
  State: ContainerState;
  RestartCount: number;
  /** The last `next-exit` generation: increases on every exit. */
  ExitGeneration: number;
  Security?: SecuritySummary;
  /** Set with "removing" by `rm -v` and `--rm`: a removal a crash interrupted removes them too. */
  RemoveVolumes?: boolean;
  /** Volume names this container created (anonymous) or uses. */
  Volumes?: Array<{ name: string; target: string; anonymous: boolean; noCopy?: boolean }>;
  /** Bind sources as authorized at create: canonical path, device and inode (checked at every start). */
  BindSources?: BindSource[];
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
