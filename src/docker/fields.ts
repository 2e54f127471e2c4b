/**
 * Docker's request-body structures, by exact field name, for the bodies an authorization
 * decision reads. Source: moby/moby `api/types/container/{config,hostconfig}.go`,
 * `api/types/mount/mount.go`, `api/types/network/endpoint.go`, `api/types/exec.go`,
 * `api/types/volume/create_request.go`.
 *
 * Go's decoder matches these names case-insensitively; the canonicalizer accepts only the
 * exact spelling and refuses a case variant (see canonical.ts). Keys that match nothing
 * are unknown to Docker too and are kept as data.
 *
 * Pure: no I/O.
 */

/** A field's JSON shape. `null` is accepted for every type, as Go's decoder does. */
export type FieldType =
  | 'bool'
  | 'str'
  | 'int'
  | 'num'
  /** []string */
  | 'strs'
  /** strslice.StrSlice: a string or an array of strings */
  | 'strslice'
  /** any JSON: objects are checked for duplicate and case-variant keys */
  | 'any'
  | { readonly struct: Schema }
  | { readonly arrayOf: FieldType }
  /** map keys are data: duplicates are refused, case variants are distinct keys */
  | { readonly mapOf: FieldType };

export type Schema = Readonly<Record<string, FieldType>>;

const S = 'str' as const;
const B = 'bool' as const;
const I = 'int' as const;
const SA = 'strs' as const;
const SL = 'strslice' as const;
const struct = (s: Schema): FieldType => ({ struct: s });
const arrayOf = (t: FieldType): FieldType => ({ arrayOf: t });
const mapOf = (t: FieldType): FieldType => ({ mapOf: t });
const STR_MAP = mapOf(S);
const ANY_MAP = mapOf('any');

const THROTTLE = struct({ Path: S, Rate: I });

/** container.Resources (embedded in HostConfig; the body of /containers/{id}/update). */
export const RESOURCES: Schema = {
  CpuShares: I,
  Memory: I,
  NanoCpus: I,
  CgroupParent: S,
  BlkioWeight: I,
  BlkioWeightDevice: arrayOf(struct({ Path: S, Weight: I })),
  BlkioDeviceReadBps: arrayOf(THROTTLE),
  BlkioDeviceWriteBps: arrayOf(THROTTLE),
  BlkioDeviceReadIOps: arrayOf(THROTTLE),
  BlkioDeviceWriteIOps: arrayOf(THROTTLE),
  CpuPeriod: I,
  CpuQuota: I,
  CpuRealtimePeriod: I,
  CpuRealtimeRuntime: I,
  CpusetCpus: S,
  CpusetMems: S,
  Devices: arrayOf(struct({ PathOnHost: S, PathInContainer: S, CgroupPermissions: S })),
  DeviceCgroupRules: SA,
  DeviceRequests: arrayOf(
    struct({ Driver: S, Count: I, DeviceIDs: SA, Capabilities: arrayOf(SA), Options: STR_MAP }),
  ),
  KernelMemory: I,
  KernelMemoryTCP: I,
  MemoryReservation: I,
  MemorySwap: I,
  MemorySwappiness: I,
  OomKillDisable: B,
  PidsLimit: I,
  Ulimits: arrayOf(struct({ Name: S, Hard: I, Soft: I })),
  CpuCount: I,
  CpuPercent: I,
  IOMaximumIOps: I,
  IOMaximumBandwidth: I,
};

export const MOUNT: Schema = {
  Type: S,
  Source: S,
  Target: S,
  ReadOnly: B,
  Consistency: S,
  BindOptions: struct({
    Propagation: S,
    NonRecursive: B,
    CreateMountpoint: B,
    ReadOnlyNonRecursive: B,
    ReadOnlyForceRecursive: B,
  }),
  VolumeOptions: struct({
    NoCopy: B,
    Labels: STR_MAP,
    Subpath: S,
    DriverConfig: struct({ Name: S, Options: STR_MAP }),
  }),
  ImageOptions: struct({ Subpath: S }),
  TmpfsOptions: struct({ SizeBytes: I, Mode: I, Options: arrayOf(SA) }),
  ClusterOptions: 'any',
};

export const HOST_CONFIG: Schema = {
  Binds: SA,
  ContainerIDFile: S,
  LogConfig: struct({ Type: S, Config: STR_MAP }),
  NetworkMode: S,
  PortBindings: mapOf(arrayOf(struct({ HostIp: S, HostPort: S }))),
  RestartPolicy: struct({ Name: S, MaximumRetryCount: I }),
  AutoRemove: B,
  VolumeDriver: S,
  VolumesFrom: SA,
  ConsoleSize: arrayOf(I),
  Annotations: STR_MAP,
  CapAdd: SL,
  CapDrop: SL,
  CgroupnsMode: S,
  Dns: SA,
  DnsOptions: SA,
  DnsSearch: SA,
  ExtraHosts: SA,
  GroupAdd: SA,
  IpcMode: S,
  Cgroup: S,
  Links: SA,
  OomScoreAdj: I,
  PidMode: S,
  Privileged: B,
  PublishAllPorts: B,
  ReadonlyRootfs: B,
  SecurityOpt: SA,
  StorageOpt: STR_MAP,
  Tmpfs: STR_MAP,
  UTSMode: S,
  UsernsMode: S,
  ShmSize: I,
  Sysctls: STR_MAP,
  Runtime: S,
  Isolation: S,
  Capabilities: SA,
  Init: B,
  MaskedPaths: SA,
  ReadonlyPaths: SA,
  Mounts: arrayOf(struct(MOUNT)),
  ...RESOURCES,
};

const ENDPOINT_SETTINGS: Schema = {
  IPAMConfig: struct({ IPv4Address: S, IPv6Address: S, LinkLocalIPs: SA }),
  Links: SA,
  Aliases: SA,
  MacAddress: S,
  DriverOpts: STR_MAP,
  GwPriority: I,
  NetworkID: S,
  EndpointID: S,
  Gateway: S,
  IPAddress: S,
  IPPrefixLen: I,
  IPv6Gateway: S,
  GlobalIPv6Address: S,
  GlobalIPv6PrefixLen: I,
  DNSNames: SA,
};

/** container.Config: the top level of a create body. */
export const CONTAINER_CONFIG: Schema = {
  Hostname: S,
  Domainname: S,
  User: S,
  AttachStdin: B,
  AttachStdout: B,
  AttachStderr: B,
  ExposedPorts: ANY_MAP,
  Tty: B,
  OpenStdin: B,
  StdinOnce: B,
  Env: SA,
  Cmd: SL,
  Healthcheck: struct({ Test: SA, Interval: I, Timeout: I, StartPeriod: I, StartInterval: I, Retries: I }),
  ArgsEscaped: B,
  Image: S,
  Volumes: ANY_MAP,
  WorkingDir: S,
  Entrypoint: SL,
  NetworkDisabled: B,
  MacAddress: S,
  OnBuild: SA,
  Labels: STR_MAP,
  StopSignal: S,
  StopTimeout: I,
  Shell: SL,
};

/** POST /containers/create: container.Config with HostConfig and NetworkingConfig beside it. */
export const CONTAINER_CREATE: Schema = {
  ...CONTAINER_CONFIG,
  HostConfig: struct(HOST_CONFIG),
  NetworkingConfig: struct({ EndpointsConfig: mapOf(struct(ENDPOINT_SETTINGS)) }),
};

/** POST /containers/{id}/exec */
export const EXEC_CREATE: Schema = {
  User: S,
  Privileged: B,
  Tty: B,
  ConsoleSize: arrayOf(I),
  AttachStdin: B,
  AttachStderr: B,
  AttachStdout: B,
  Detach: B,
  DetachKeys: S,
  Env: SA,
  WorkingDir: S,
  Cmd: SL,
};

/** POST /exec/{id}/start */
export const EXEC_START: Schema = { Detach: B, Tty: B, ConsoleSize: arrayOf(I) };

/** POST /containers/{id}/update */
export const CONTAINER_UPDATE: Schema = {
  ...RESOURCES,
  RestartPolicy: struct({ Name: S, MaximumRetryCount: I }),
};

/** POST /volumes/create */
export const VOLUME_CREATE: Schema = {
  Name: S,
  Driver: S,
  DriverOpts: STR_MAP,
  Labels: STR_MAP,
  ClusterVolumeSpec: 'any',
};

/** Which body a route expects, by method and version-less canonical path. */
export type BodyKind = 'container-create' | 'exec-create' | 'exec-start' | 'container-update' | 'volume-create' | 'container-start';

const ROUTES: ReadonlyArray<{ kind: BodyKind; method: string; re: RegExp; schema: Schema }> = [
  { kind: 'container-create', method: 'POST', re: /^\/containers\/create$/, schema: CONTAINER_CREATE },
  { kind: 'exec-create', method: 'POST', re: /^\/containers\/[^/]+\/exec$/, schema: EXEC_CREATE },
  { kind: 'exec-start', method: 'POST', re: /^\/exec\/[^/]+\/start$/, schema: EXEC_START },
  { kind: 'container-update', method: 'POST', re: /^\/containers\/[^/]+\/update$/, schema: CONTAINER_UPDATE },
  { kind: 'volume-create', method: 'POST', re: /^\/volumes\/create$/, schema: VOLUME_CREATE },
  // API < 1.24 applied a HostConfig sent to start: a create-time check bypass. Refused (canonical.ts).
  { kind: 'container-start', method: 'POST', re: /^\/containers\/[^/]+\/start$/, schema: {} },
];

/** The known body structure of a route, or undefined (then every object is checked generically). */
export function bodyKindFor(method: string, path: string): { kind: BodyKind; schema: Schema } | undefined {
  for (const r of ROUTES) if (r.method === method && r.re.test(path)) return { kind: r.kind, schema: r.schema };
  return undefined;
}

/**
 * Go's encoding/json folds field names with Unicode simple folding, so "ſ" (U+017F) matches
 * "s" and "K" (U+212A) matches "k". Upper- then lower-casing maps both to ASCII.
 */
export function foldKey(key: string): string {
  return key.toUpperCase().toLowerCase();
}
