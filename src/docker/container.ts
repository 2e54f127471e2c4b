// A container's configuration as the Engine API carries it: Config and HostConfig with
// Docker's field names (moby `api/types/container`). The create reader (create.ts) makes
// them from a request body; the engine keeps them verbatim in its records, because inspect
// returns them. Pure types.
import type { ApiMount } from './mounts.js';

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
  /** `--mac-address` (API < 1.44 sends it here; newer clients also in the endpoint settings). */
  MacAddress?: string;
  /** No network at all (loopback only), whatever NetworkMode says. */
  NetworkDisabled?: boolean;
}

/** One network's settings in `NetworkingConfig.EndpointsConfig` (what moat reads of moby's EndpointSettings). */
export interface EndpointConfig {
  IPAMConfig?: { IPv4Address?: string } | null;
  Aliases?: string[] | null;
  MacAddress?: string;
}

/** `NetworkingConfig` of a create body: the networks by name, with their endpoint settings. */
export interface NetworkingConfig {
  EndpointsConfig: Record<string, EndpointConfig>;
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

/** HostConfig.Mounts[] entry. */
export type MountSpec = ApiMount;

export interface HostConfig {
  Binds?: string[] | null;
  NetworkMode?: string;
  /** `-p`: one key per container port (`80/tcp`), the host addresses and ports. */
  PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null;
  /** `-P`: every exposed port on a random host port. */
  PublishAllPorts?: boolean;
  RestartPolicy?: { Name: string; MaximumRetryCount?: number };
  AutoRemove?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  CgroupnsMode?: string;
  /** `--cgroup-parent`: as given (inspect shows it); the engine nests it under moat's parent (cgroup-parent.ts). */
  CgroupParent?: string;
  Dns?: string[] | null;
  DnsOptions?: string[] | null;
  DnsSearch?: string[] | null;
  ExtraHosts?: string[] | null;
  /** `--link target[:alias]`; stored as `/target:/source/alias` (Docker's inspect form). */
  Links?: string[] | null;
  /** `--volumes-from container[:ro|rw]`: the binds and volumes of those containers too (engine/plan.ts inheritMounts). */
  VolumesFrom?: string[] | null;
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
  BlkioWeightDevice?: Array<{ Path: string; Weight: number }> | null;
  BlkioDeviceReadBps?: Array<{ Path: string; Rate: number }> | null;
  BlkioDeviceWriteBps?: Array<{ Path: string; Rate: number }> | null;
  BlkioDeviceReadIOps?: Array<{ Path: string; Rate: number }> | null;
  BlkioDeviceWriteIOps?: Array<{ Path: string; Rate: number }> | null;
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
  /** Stored, shown by inspect and passed to the runtime spec (size-limited at create). */
  Annotations?: Record<string, string> | null;
  PidsLimit?: number | null;
  Ulimits?: Ulimit[] | null;
  Mounts?: MountSpec[] | null;
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
  Init?: boolean | null;
  LogConfig?: { Type: string; Config?: Record<string, string> };
}
