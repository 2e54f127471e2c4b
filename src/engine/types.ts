// Container and exec records. The container's configuration keeps Docker's field names
// (Config and HostConfig as the Engine API sends them) because inspect returns it verbatim.
import type { BindSource } from './binds.js';
import type { ContainerConfig, HostConfig } from '../docker/index.js';

export type { ContainerConfig, HostConfig, DeviceMapping, Ulimit, MountSpec } from '../docker/index.js';

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
