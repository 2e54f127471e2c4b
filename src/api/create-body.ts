// POST /containers/create body -> engine request. Unknown keys are tolerated as Docker
// does; known fields moat does not implement are refused by name when they are set, so a
// security-relevant option is never silently ignored.
import { invalid } from '../base/index.js';
import type { ContainerConfig, HostConfig } from '../engine/index.js';
import { checkLabelSizes } from './labels.js';

type Json = Record<string, unknown>;

function isSet(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

const strArray = (v: unknown, field: string): string[] | null | undefined => {
  if (v === undefined || v === null) return v as null | undefined;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw invalid(`json: cannot unmarshal ${typeof v} into Go struct field ${field} of type []string`);
  return v;
};

function expect<T>(v: unknown, type: 'string' | 'number' | 'boolean' | 'object', field: string): T | undefined {
  if (v === undefined || v === null) return undefined;
  if (type === 'object' ? typeof v !== 'object' || Array.isArray(v) : typeof v !== type) {
    throw invalid(`json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go struct field ${field} of type ${type}`);
  }
  return v as T;
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
  const b = body as Json;
  const image = expect<string>(b['Image'], 'string', 'Config.Image');
  const config: ContainerConfig = {
    Image: image ?? '',
    Hostname: expect<string>(b['Hostname'], 'string', 'Config.Hostname') ?? '',
    Domainname: expect<string>(b['Domainname'], 'string', 'Config.Domainname') ?? '',
    User: expect<string>(b['User'], 'string', 'Config.User') ?? '',
    AttachStdin: expect<boolean>(b['AttachStdin'], 'boolean', 'Config.AttachStdin') ?? false,
    AttachStdout: expect<boolean>(b['AttachStdout'], 'boolean', 'Config.AttachStdout') ?? false,
    AttachStderr: expect<boolean>(b['AttachStderr'], 'boolean', 'Config.AttachStderr') ?? false,
    Tty: expect<boolean>(b['Tty'], 'boolean', 'Config.Tty') ?? false,
    OpenStdin: expect<boolean>(b['OpenStdin'], 'boolean', 'Config.OpenStdin') ?? false,
    StdinOnce: expect<boolean>(b['StdinOnce'], 'boolean', 'Config.StdinOnce') ?? false,
    Env: strArray(b['Env'], 'Config.Env') ?? null,
    Cmd: strArray(b['Cmd'], 'Config.Cmd') ?? null,
    Entrypoint: strArray(b['Entrypoint'], 'Config.Entrypoint') ?? null,
    WorkingDir: expect<string>(b['WorkingDir'], 'string', 'Config.WorkingDir') ?? '',
    Labels: expect<Record<string, string>>(b['Labels'], 'object', 'Config.Labels') ?? {},
    Volumes: expect<Record<string, object>>(b['Volumes'], 'object', 'Config.Volumes') ?? null,
    ExposedPorts: expect<Record<string, object>>(b['ExposedPorts'], 'object', 'Config.ExposedPorts') ?? null,
  };
  const stopSignal = expect<string>(b['StopSignal'], 'string', 'Config.StopSignal');
  if (stopSignal) config.StopSignal = stopSignal;
  const stopTimeout = expect<number>(b['StopTimeout'], 'number', 'Config.StopTimeout');
  if (stopTimeout !== undefined) config.StopTimeout = stopTimeout;
  if (config.WorkingDir && !config.WorkingDir.startsWith('/')) throw invalid(`the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`);
  for (const [k, v] of Object.entries(config.Labels ?? {})) if (typeof v !== 'string') throw invalid(`json: cannot unmarshal ${typeof v} into Go struct field Config.Labels of type string (label ${k})`);
  checkLabelSizes(config.Labels, 'Config.Labels');
  if (isSet(b['Healthcheck'])) throw invalid('Config.Healthcheck is not supported by moat yet');
  // Anonymous volumes (`-v /path`) are mounted by the code that mounts Binds; until that is
  // enforced they are refused, not silently dropped (the data would vanish with the layer).
  if (isSet(b['Volumes']) && !support.enforced.has('Config.Volumes')) throw invalid('Config.Volumes is not supported by moat yet: anonymous volumes (-v /path) need volume mounts');
  if (b['NetworkDisabled'] === true) config.Hostname = config.Hostname ?? '';
  const hcIn = expect<Json>(b['HostConfig'], 'object', 'HostConfig') ?? {};
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
  for (const f of ['CapAdd', 'CapDrop', 'Binds', 'SecurityOpt', 'GroupAdd', 'Dns', 'DnsSearch', 'DnsOptions', 'ExtraHosts', 'DeviceCgroupRules', 'MaskedPaths', 'ReadonlyPaths'] as const) {
    const v = strArray(hcIn[f], `HostConfig.${f}`);
    if (v !== undefined) (hostConfig as Record<string, unknown>)[f] = v;
  }
  for (const f of ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota', 'BlkioWeight', 'ShmSize', 'OomScoreAdj'] as const) {
    expect<number>(hcIn[f], 'number', `HostConfig.${f}`);
  }
  if (hcIn['PidsLimit'] !== undefined && hcIn['PidsLimit'] !== null) expect<number>(hcIn['PidsLimit'], 'number', 'HostConfig.PidsLimit');
  for (const f of ['Privileged', 'AutoRemove', 'ReadonlyRootfs'] as const) expect<boolean>(hcIn[f], 'boolean', `HostConfig.${f}`);
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
