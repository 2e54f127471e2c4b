// POST /containers/create body -> engine request. The body is read with Docker's types
// (./types.ts: a wrong type is a 400 naming the field; unknown keys are ignored, as Docker
// does); known fields moat does not implement are refused by name when they are set, so a
// security-relevant option is never silently ignored.
import { invalid } from '../base/index.js';
import type { ContainerConfig, HostConfig } from '../engine/index.js';
import { createBodyRoot, createBodySchema, issuesText, readRequest } from './types.js';
import { checkLabelSizes } from './labels.js';

function isSet(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** The parsed value without the keys zod left undefined (null is kept: Go's nil slice or map). */
function compact<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** HostConfig fields moat does not implement yet: refused when set (by field name). */
const UNSUPPORTED_HOST_FIELDS = [
  'VolumeDriver', 'VolumesFrom', 'Links', 'PublishAllPorts', 'CgroupParent', 'Cgroup', 'DeviceRequests',
  'CpuRealtimePeriod', 'CpuRealtimeRuntime', 'CpuCount', 'CpuPercent', 'IOMaximumIOps', 'IOMaximumBandwidth',
  'BlkioWeightDevice', 'BlkioDeviceReadBps', 'BlkioDeviceWriteBps', 'BlkioDeviceReadIOps', 'BlkioDeviceWriteIOps',
  'KernelMemory', 'KernelMemoryTCP', 'PortBindings', 'StorageOpt', 'Annotations',
] as const;

/** Fields handled by later parts of moat; each entry says which HostConfig fields are live. */
const SUPPORTED_HOST_FIELDS = new Set<string>([
  'Binds', 'NetworkMode', 'RestartPolicy', 'AutoRemove', 'CapAdd', 'CapDrop', 'CgroupnsMode', 'Dns', 'DnsOptions',
  'DnsSearch', 'ExtraHosts', 'GroupAdd', 'IpcMode', 'PidMode', 'Privileged', 'ReadonlyRootfs', 'SecurityOpt', 'Tmpfs',
  'UTSMode', 'UsernsMode', 'ShmSize', 'Sysctls', 'ConsoleSize', 'CpuShares', 'Memory', 'NanoCpus', 'BlkioWeight',
  'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems', 'Devices', 'DeviceCgroupRules', 'MemoryReservation',
  'MemorySwap', 'MemorySwappiness', 'OomKillDisable', 'OomScoreAdj', 'PidsLimit', 'Ulimits', 'Mounts', 'MaskedPaths',
  'ReadonlyPaths', 'Init', 'LogConfig', 'ContainerIDFile', 'Isolation', 'Runtime',
]);

export interface HostConfigSupport {
  /** HostConfig fields this daemon build enforces; a set field outside it is refused. */
  enforced: ReadonlySet<string>;
}

export function parseCreateBody(body: unknown, support: HostConfigSupport): { config: ContainerConfig; hostConfig: HostConfig } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('config cannot be empty in order to create a container');
  // Every field against Docker's type first: a bad one is a 400 naming it, never a 500 later
  // or a record that `docker inspect` cannot decode.
  const read = readRequest(createBodySchema, body, { root: createBodyRoot });
  if (!read.ok) throw invalid(issuesText(read.issues));
  const b = read.value;
  const config: ContainerConfig = {
    Image: b.Image ?? '',
    Hostname: b.Hostname ?? '',
    Domainname: b.Domainname ?? '',
    User: b.User ?? '',
    AttachStdin: b.AttachStdin ?? false,
    AttachStdout: b.AttachStdout ?? false,
    AttachStderr: b.AttachStderr ?? false,
    Tty: b.Tty ?? false,
    OpenStdin: b.OpenStdin ?? false,
    StdinOnce: b.StdinOnce ?? false,
    Env: b.Env ?? null,
    Cmd: b.Cmd ?? null,
    Entrypoint: b.Entrypoint ?? null,
    WorkingDir: b.WorkingDir ?? '',
    Labels: b.Labels ?? {},
    Volumes: b.Volumes ?? null,
    ExposedPorts: b.ExposedPorts ?? null,
  };
  if (b.StopSignal) config.StopSignal = b.StopSignal;
  if (b.StopTimeout !== undefined && b.StopTimeout !== null) config.StopTimeout = b.StopTimeout;
  if (config.WorkingDir && !config.WorkingDir.startsWith('/')) throw invalid(`the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`);
  if (isSet(b.Healthcheck)) throw invalid('Config.Healthcheck is not supported by moat yet');
  // Anonymous volumes (`-v /path`) are mounted by the code that mounts Binds; until that is
  // enforced they are refused, not silently dropped (the data would vanish with the layer).
  if (isSet(b.Volumes) && !support.enforced.has('Config.Volumes')) throw invalid('Config.Volumes is not supported by moat yet: anonymous volumes (-v /path) need volume mounts');
  const hcIn = compact(b.HostConfig ?? {}) as Record<string, unknown>;
  checkLabelSizes(config.Labels, 'Config.Labels');
  checkLabelSizes(hcIn['Annotations'], 'HostConfig.Annotations');
  for (const field of UNSUPPORTED_HOST_FIELDS) {
    if (isSet(hcIn[field])) throw invalid(`HostConfig.${field} is not supported by moat yet`);
  }
  for (const [field, value] of Object.entries(hcIn)) {
    if (SUPPORTED_HOST_FIELDS.has(field) && !support.enforced.has(field) && isSet(value) && !isDefaultValue(field, value)) {
      throw invalid(`HostConfig.${field} is not supported by moat yet`);
    }
  }
  const hostConfig = hcIn as HostConfig;
  const rp = hostConfig.RestartPolicy;
  if (rp && rp.Name !== '' && rp.Name !== 'no') {
    if (hostConfig.AutoRemove) throw invalid(`can't create 'AutoRemove' container with restart policy`);
    if (!support.enforced.has('RestartPolicy')) throw invalid(`HostConfig.RestartPolicy ${rp.Name} is not supported by moat yet`);
  }
  // LogConfig (driver and options) is checked by the engine's effectiveLogConfig at create.
  return { config, hostConfig };
}

/** Values the docker CLI sends for options the user did not give. */
function isDefaultValue(field: string, value: unknown): boolean {
  switch (field) {
    case 'NetworkMode':
      return value === 'default' || value === 'bridge' || value === 'none';
    case 'RestartPolicy':
      return (value as { Name?: string }).Name === 'no' || (value as { Name?: string }).Name === '';
    case 'MemorySwappiness':
      return value === -1;
    case 'LogConfig':
    case 'ConsoleSize':
    case 'ContainerIDFile':
      return true;
    case 'Isolation':
      return value === 'default';
    case 'Runtime':
      return value === 'runc';
    default:
      return false;
  }
}
