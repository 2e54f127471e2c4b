// POST /containers/create: the canonical body (the one the authorization plugins saw) → a
// typed, validated create request. Every field is read with Docker's type first (types.ts: a
// wrong type is a 400 naming the field); then CREATE_FIELDS, the one table of what moat does
// with each field, refuses by name what moat does not implement, so a security-relevant
// option is never accepted and silently ignored. Unknown top-level keys are ignored, as
// Docker does (dockerode sends `name`). Pure.
import { invalid } from '../base/index.js';
import type { ContainerConfig, EndpointConfig, HostConfig, NetworkingConfig } from './container.js';
import { cgroupParentPath } from './cgroup-parent.js';
import { checkLabelSizes } from './labels.js';
import { containerConfigShape, createBodyRoot, createBodySchema, hostConfigSchema, issuesText, readRequest } from './types.js';

/**
 * What moat does with one create field:
 * - `implemented`: the engine applies it (or, for Attach*, records it as Docker does);
 * - `refused`: a 400 naming the field when it is set (not when it is empty, false or 0);
 * - `ignored`: accepted and without effect, with the reason (client-side fields, fields of
 *   features moat does not have whose absence is the safe default).
 * `unlessDefault` lists the values a client sends for an option the user did not give;
 * a refused field with such a value is accepted.
 */
export interface FieldRule {
  readonly support: 'implemented' | 'refused' | 'ignored';
  readonly why?: string;
  readonly unlessDefault?: (value: unknown) => boolean;
}

const implemented: FieldRule = { support: 'implemented' };
const refused: FieldRule = { support: 'refused' };
const ignored = (why: string): FieldRule => ({ support: 'ignored', why });

/**
 * Every field of the create body: `Config.<Field>` for the top level (container.Config),
 * `HostConfig.<Field>`, and `NetworkingConfig`. A unit test checks that every field of
 * Docker's types (types.ts) has a row.
 */
export const CREATE_FIELDS: Readonly<Record<string, FieldRule>> = {
  'Config.Hostname': implemented,
  'Config.Domainname': implemented,
  'Config.User': implemented,
  'Config.AttachStdin': implemented,
  'Config.AttachStdout': implemented,
  'Config.AttachStderr': implemented,
  'Config.ExposedPorts': implemented,
  'Config.Tty': implemented,
  'Config.OpenStdin': implemented,
  'Config.StdinOnce': implemented,
  'Config.Env': implemented,
  'Config.Cmd': implemented,
  'Config.Healthcheck': implemented,
  'Config.ArgsEscaped': ignored('Windows only'),
  'Config.Image': implemented,
  'Config.Volumes': implemented,
  'Config.WorkingDir': implemented,
  'Config.Entrypoint': implemented,
  'Config.NetworkDisabled': implemented,
  'Config.MacAddress': implemented,
  'Config.OnBuild': ignored('image builds only'),
  'Config.Labels': implemented,
  'Config.StopSignal': implemented,
  'Config.StopTimeout': implemented,
  'Config.Shell': ignored('image builds only'),
  NetworkingConfig: implemented,

  'HostConfig.Binds': implemented,
  'HostConfig.ContainerIDFile': ignored('written by the client'),
  'HostConfig.LogConfig': implemented,
  'HostConfig.NetworkMode': implemented,
  'HostConfig.PortBindings': implemented,
  'HostConfig.RestartPolicy': implemented,
  'HostConfig.AutoRemove': implemented,
  'HostConfig.VolumeDriver': { support: 'refused', unlessDefault: (v) => v === 'local' },
  'HostConfig.VolumesFrom': implemented,
  'HostConfig.ConsoleSize': implemented,
  'HostConfig.Annotations': implemented,
  'HostConfig.CapAdd': implemented,
  'HostConfig.CapDrop': implemented,
  'HostConfig.CgroupnsMode': implemented,
  'HostConfig.Dns': implemented,
  'HostConfig.DnsOptions': implemented,
  'HostConfig.DnsSearch': implemented,
  'HostConfig.ExtraHosts': implemented,
  'HostConfig.GroupAdd': implemented,
  'HostConfig.IpcMode': implemented,
  'HostConfig.Cgroup': refused,
  'HostConfig.Links': implemented,
  'HostConfig.OomScoreAdj': implemented,
  'HostConfig.PidMode': implemented,
  'HostConfig.Privileged': implemented,
  'HostConfig.PublishAllPorts': implemented,
  'HostConfig.ReadonlyRootfs': implemented,
  'HostConfig.SecurityOpt': implemented,
  'HostConfig.StorageOpt': refused,
  'HostConfig.Tmpfs': implemented,
  'HostConfig.UTSMode': implemented,
  'HostConfig.UsernsMode': implemented,
  'HostConfig.ShmSize': implemented,
  'HostConfig.Sysctls': implemented,
  'HostConfig.Runtime': { support: 'refused', unlessDefault: (v) => v === 'runc' },
  'HostConfig.Isolation': { support: 'refused', unlessDefault: (v) => v === 'default' },
  'HostConfig.CpuShares': implemented,
  'HostConfig.Memory': implemented,
  'HostConfig.NanoCpus': implemented,
  'HostConfig.CgroupParent': implemented,
  'HostConfig.BlkioWeight': implemented,
  'HostConfig.BlkioWeightDevice': implemented,
  'HostConfig.BlkioDeviceReadBps': implemented,
  'HostConfig.BlkioDeviceWriteBps': implemented,
  'HostConfig.BlkioDeviceReadIOps': implemented,
  'HostConfig.BlkioDeviceWriteIOps': implemented,
  'HostConfig.CpuPeriod': implemented,
  'HostConfig.CpuQuota': implemented,
  'HostConfig.CpuRealtimePeriod': refused,
  'HostConfig.CpuRealtimeRuntime': refused,
  'HostConfig.CpusetCpus': implemented,
  'HostConfig.CpusetMems': implemented,
  'HostConfig.Devices': implemented,
  'HostConfig.DeviceCgroupRules': implemented,
  'HostConfig.DeviceRequests': refused,
  'HostConfig.KernelMemory': refused,
  'HostConfig.KernelMemoryTCP': refused,
  'HostConfig.MemoryReservation': implemented,
  'HostConfig.MemorySwap': implemented,
  'HostConfig.MemorySwappiness': implemented,
  'HostConfig.OomKillDisable': implemented,
  'HostConfig.PidsLimit': implemented,
  'HostConfig.Ulimits': implemented,
  'HostConfig.CpuCount': refused,
  'HostConfig.CpuPercent': refused,
  'HostConfig.IOMaximumIOps': refused,
  'HostConfig.IOMaximumBandwidth': refused,
  'HostConfig.Mounts': implemented,
  'HostConfig.MaskedPaths': implemented,
  'HostConfig.ReadonlyPaths': implemented,
  'HostConfig.Init': implemented,
  // The container's whole capability set (API 1.40): moat builds it from CapAdd/CapDrop only.
  'HostConfig.Capabilities': refused,
};

/**
 * The fields of Docker's create body (the keys of types.ts's schemas) in CREATE_FIELDS'
 * spelling, for the test that keeps the table complete.
 *
 * @example
 * createFieldNames().includes('HostConfig.Binds') // true
 */
export function createFieldNames(): string[] {
  return [
    ...Object.keys(containerConfigShape).map((k) => `Config.${k}`),
    ...Object.keys(hostConfigSchema.shape).map((k) => `HostConfig.${k}`),
    'NetworkingConfig',
  ];
}

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

/** Throws the 400 for a set field moat refuses. */
function refuseUnsupported(field: string, value: unknown): void {
  const rule = CREATE_FIELDS[field];
  if (rule?.support !== 'refused' || !isSet(value) || rule.unlessDefault?.(value) === true) return;
  throw invalid(`${field} is not supported by moat yet`);
}

/** A create request as the engine takes it: Config and HostConfig, typed and checked. */
export interface ContainerCreate {
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** Undefined when the body names no endpoint settings. */
  networkingConfig?: NetworkingConfig;
}

/**
 * Read a create body (the canonical request's parsed body).
 *
 * @example
 * const { config, hostConfig } = readContainerCreate({ Image: 'busybox', Cmd: ['true'], HostConfig: { AutoRemove: true } });
 */
export function readContainerCreate(body: unknown): ContainerCreate {
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
  if (b.Healthcheck) config.Healthcheck = b.Healthcheck;
  if (b.MacAddress) config.MacAddress = b.MacAddress;
  if (b.NetworkDisabled === true) config.NetworkDisabled = true;
  if (b.StopTimeout !== undefined && b.StopTimeout !== null) config.StopTimeout = b.StopTimeout;
  if (config.WorkingDir && !config.WorkingDir.startsWith('/')) throw invalid(`the working directory '${config.WorkingDir}' is invalid, it needs to be an absolute path`);
  const top = b as Record<string, unknown>;
  const hcIn = compact(b.HostConfig ?? {}) as Record<string, unknown>;
  // In the table's order, so the first refused field named is always the same one.
  for (const field of Object.keys(CREATE_FIELDS)) if (field.startsWith('Config.')) refuseUnsupported(field, top[field.slice('Config.'.length)]);
  checkLabelSizes(config.Labels, 'Config.Labels');
  checkLabelSizes(hcIn['Annotations'], 'HostConfig.Annotations');
  for (const field of Object.keys(CREATE_FIELDS)) if (field.startsWith('HostConfig.')) refuseUnsupported(field, hcIn[field.slice('HostConfig.'.length)]);
  const hostConfig = hcIn as HostConfig;
  cgroupParentPath(hostConfig.CgroupParent ?? '');
  const rp = hostConfig.RestartPolicy;
  if (rp) {
    checkRestartPolicy(rp);
    if (rp.Name !== '' && rp.Name !== 'no' && hostConfig.AutoRemove) throw invalid(`can't create 'AutoRemove' container with restart policy`);
  }
  // LogConfig (driver and options) is checked by the engine's effectiveLogConfig at create.
  const networkingConfig = readNetworkingConfig(b.NetworkingConfig?.EndpointsConfig, hostConfig);
  return { config, hostConfig, ...(networkingConfig !== undefined ? { networkingConfig } : {}) };
}

/** Why links are refused on a network that is not a bridge. */
export const LINKS_ONLY_ON_BRIDGES = 'links are supported only on bridge networks: the default one and user-defined ones';

/** The endpoint settings moat applies (address, aliases, MAC); the rest are Docker's outputs, ignored. */
type EndpointIn = { IPAMConfig?: { IPv4Address?: string | undefined; IPv6Address?: string | undefined } | null | undefined; Aliases?: string[] | null | undefined; MacAddress?: string | undefined; Links?: string[] | null | undefined } | null;

/**
 * The endpoints' settings. Links in the endpoint of the container's own network (the docker
 * CLI's `--link` on a user network) join HostConfig.Links; in another endpoint they are refused.
 */
function readNetworkingConfig(eps: Record<string, EndpointIn> | null | undefined, hostConfig: HostConfig): NetworkingConfig | undefined {
  if (eps === undefined || eps === null || Object.keys(eps).length === 0) return undefined;
  const out: Record<string, EndpointConfig> = {};
  for (const [name, e] of Object.entries(eps)) {
    const field = `NetworkingConfig.EndpointsConfig[${JSON.stringify(name)}]`;
    if (e?.IPAMConfig?.IPv6Address) throw invalid(`${field}.IPAMConfig.IPv6Address is not supported by moat yet`);
    if (e?.Links !== undefined && e.Links !== null && e.Links.length > 0) {
      if (name !== hostConfig.NetworkMode) throw invalid(`${field}.Links: links are supported only on the container's own network (${hostConfig.NetworkMode || 'default'})`);
      hostConfig.Links = [...(hostConfig.Links ?? []), ...e.Links.filter((l) => !(hostConfig.Links ?? []).includes(l))];
    }
    out[name] = {
      ...(e?.IPAMConfig?.IPv4Address ? { IPAMConfig: { IPv4Address: e.IPAMConfig.IPv4Address } } : {}),
      ...(e?.Aliases ? { Aliases: [...e.Aliases] } : {}),
      ...(e?.MacAddress ? { MacAddress: e.MacAddress } : {}),
    };
  }
  return { EndpointsConfig: out };
}

/**
 * A restart policy as Docker checks it (create and update): a known name, a retry count only
 * with on-failure and never negative.
 *
 * @example
 * checkRestartPolicy({ Name: 'on-failure', MaximumRetryCount: 2 }); // ok
 * checkRestartPolicy({ Name: 'always', MaximumRetryCount: 2 }); // throws a 400
 */
export function checkRestartPolicy(rp: { Name?: string; MaximumRetryCount?: number }): void {
  const name = rp.Name ?? '';
  const max = rp.MaximumRetryCount ?? 0;
  if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(name)) {
    throw invalid(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  }
  if (max < 0) throw invalid('invalid restart policy: maximum retry count cannot be negative');
  if (max !== 0 && name !== 'on-failure') throw invalid(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
}
