// Docker Engine API request bodies as zod schemas, with Docker's field names and the decoding
// rules of Go's encoding/json that dockerd applies to them (moby `api/types/container`,
// `api/types/mount`, `api/types/network`; API 1.47):
// - unknown keys are ignored (and dropped);
// - `null` for a string, number or bool leaves its zero value (here: the key is absent);
//   `null` for a slice or map is a nil slice or map (kept as null);
// - numbers must fit their Go type (int64, uint16, ...); a fraction or a string is refused;
// - a `StrSlice` (Cmd, Entrypoint, Shell, CapAdd, CapDrop) is a string or a list of strings;
// - an element of a list of structs must be an object (moat also refuses `null` where Go
//   would store a nil pointer that dockerd later dereferences).
// Every refusal names the field ("HostConfig.Ulimits[0]: expected an object, got null").
// Pure, and free of engine imports, so the CLI and every route can read requests with it.
import { z } from 'zod';

// ---- Go scalar types ------------------------------------------------------------------

const INT64_MAX = 9223372036854775807;
const UINT64_MAX = 18446744073709551615;

type GoScalarKind = 'string' | 'number' | 'boolean';
type GoScalarValue<K extends GoScalarKind> = K extends 'string' ? string : K extends 'number' ? number : boolean;

/**
 * A Go scalar field in one zod step: null or absent leaves the zero value (undefined: the
 * key is dropped); another type is refused with `typeError` (zod's invalid_type, so the
 * message gets its "got …"); each failing check adds its message, all of them in order, as
 * chained refinements would. zod's own chain (type, two refinements, nullish, transform) is
 * five layers, each with its context and closures per field, and the docker CLI's create
 * body names ~90 such fields: reading it took 1.5-1.7 ms in moatd with the chains, 0.65-0.8
 * ms with this (docs/performance.md, phase I).
 */
export class GoScalar<K extends GoScalarKind> extends z.ZodType<GoScalarValue<K> | undefined, z.ZodTypeDef, unknown> {
  constructor(
    readonly kind: K,
    readonly typeError: string,
    readonly checks: ReadonlyArray<readonly [(v: GoScalarValue<K>) => boolean, string]> = [],
  ) {
    super({});
  }

  _parse(input: z.ParseInput): z.ParseReturnType<GoScalarValue<K> | undefined> {
    const v = input.data as unknown;
    if (v === null || v === undefined) return z.OK(undefined);
    if (typeof v !== this.kind || Number.isNaN(v)) {
      const ctx = this._getOrReturnCtx(input);
      z.addIssueToContext(ctx, { code: z.ZodIssueCode.invalid_type, expected: this.kind, received: ctx.parsedType, message: this.typeError });
      return z.INVALID;
    }
    let failed = false;
    for (const [ok, message] of this.checks) {
      if (ok(v as GoScalarValue<K>)) continue;
      z.addIssueToContext(this._getOrReturnCtx(input), { code: z.ZodIssueCode.custom, message });
      failed = true;
    }
    return failed ? z.INVALID : z.OK(v as GoScalarValue<K>);
  }
}

/** A Go integer type with its range; null leaves the zero value (the key is dropped). */
function goInt(type: string, min: number, max: number): GoScalar<'number'> {
  return new GoScalar('number', `expected a number (Go ${type})`, [
    [(n) => Number.isInteger(n), `expected an integer (Go ${type})`],
    [(n) => n >= min && n <= max, `out of range for Go ${type}`],
  ]);
}
const int64 = goInt('int64', -INT64_MAX - 1, INT64_MAX);
const int = goInt('int', -INT64_MAX - 1, INT64_MAX);
const uint16 = goInt('uint16', 0, 65535);
const uint32 = goInt('uint32', 0, 4294967295);
const uint64 = goInt('uint64', 0, UINT64_MAX);
const str = new GoScalar('string', 'expected a string');
const bool = new GoScalar('boolean', 'expected true or false');

/** A pointer to a scalar (`*bool`, `*int64`): null is kept, meaning "not set". */
const ptrBool = z.boolean({ invalid_type_error: 'expected true, false or null' }).nullable().optional();
const ptrInt64 = z
  .number({ invalid_type_error: 'expected a number or null (Go *int64)' })
  .refine((n) => Number.isInteger(n) && Math.abs(n) <= INT64_MAX, { message: 'expected an integer (Go int64)' })
  .nullable()
  .optional();

// ---- Go composite types ---------------------------------------------------------------

const strings = z.array(z.string({ invalid_type_error: 'expected a string' }), { invalid_type_error: 'expected a list of strings' }).nullable().optional();
/** moby `strslice.StrSlice`: a string or a list of strings. */
const strSlice = z
  .union([z.string(), z.array(z.string({ invalid_type_error: 'expected a string' }))], { errorMap: () => ({ message: 'expected a string or a list of strings' }) })
  .nullable()
  .optional()
  .transform((v) => (typeof v === 'string' ? [v] : v));
const stringMap = z.record(z.string({ invalid_type_error: 'expected a string' }), { invalid_type_error: 'expected an object of strings' }).nullable().optional();
/** `map[string]struct{}` (Volumes, ExposedPorts): each value an object; its keys are ignored. */
const emptyStructMap = z
  .record(z.object({}, { invalid_type_error: 'expected an object ({})' }).strip(), { invalid_type_error: 'expected an object' })
  .nullable()
  .optional();
const obj = <T extends z.ZodRawShape>(shape: T) => z.object(shape, { invalid_type_error: 'expected an object' });
/** A list of structs; each element must be an object. */
const listOf = <T extends z.ZodTypeAny>(item: T) => z.array(item, { invalid_type_error: 'expected a list' }).nullable().optional();

// ---- container.Config -----------------------------------------------------------------

export const healthConfigSchema = obj({
  Test: strings,
  Interval: int64,
  Timeout: int64,
  StartPeriod: int64,
  StartInterval: int64,
  Retries: int,
});

/** moby `container.Config` (the top level of the create body). */
export const containerConfigShape = {
  Hostname: str,
  Domainname: str,
  User: str,
  AttachStdin: bool,
  AttachStdout: bool,
  AttachStderr: bool,
  ExposedPorts: emptyStructMap,
  Tty: bool,
  OpenStdin: bool,
  StdinOnce: bool,
  Env: strings,
  Cmd: strSlice,
  Healthcheck: healthConfigSchema.nullable().optional(),
  ArgsEscaped: bool,
  Image: str,
  Volumes: emptyStructMap,
  WorkingDir: str,
  Entrypoint: strSlice,
  NetworkDisabled: bool,
  MacAddress: str,
  OnBuild: strings,
  Labels: stringMap,
  StopSignal: str,
  StopTimeout: ptrInt64,
  Shell: strSlice,
};

// ---- container.HostConfig -------------------------------------------------------------

export const deviceMappingSchema = obj({
  PathOnHost: z.string({ required_error: 'required', invalid_type_error: 'expected a string' }).min(1, { message: 'required' }),
  PathInContainer: str.transform((v) => v ?? ''),
  CgroupPermissions: str.transform((v) => v ?? ''),
});

export const ulimitSchema = obj({
  Name: z.string({ required_error: 'required', invalid_type_error: 'expected a string' }).min(1, { message: 'required' }),
  Hard: int64.transform((v) => v ?? 0),
  Soft: int64.transform((v) => v ?? 0),
});

const weightDevice = obj({ Path: str, Weight: uint16 });
const throttleDevice = obj({ Path: str, Rate: uint64 });

export const deviceRequestSchema = obj({
  Driver: str,
  Count: int,
  DeviceIDs: strings,
  Capabilities: z.array(z.array(z.string()), { invalid_type_error: 'expected a list of lists of strings' }).nullable().optional(),
  Options: stringMap,
});

/** moby `mount.Mount`. */
export const mountSchema = obj({
  Type: str,
  Source: str,
  Target: str,
  ReadOnly: bool,
  Consistency: str,
  BindOptions: obj({ Propagation: str, NonRecursive: bool, CreateMountpoint: bool, ReadOnlyNonRecursive: bool, ReadOnlyForceRecursive: bool }).nullable().optional(),
  VolumeOptions: obj({ NoCopy: bool, Labels: stringMap, Subpath: str, DriverConfig: obj({ Name: str, Options: stringMap }).nullable().optional() }).nullable().optional(),
  ImageOptions: obj({ Subpath: str }).nullable().optional(),
  TmpfsOptions: obj({ SizeBytes: int64, Mode: uint32, Options: z.array(z.array(z.string()), { invalid_type_error: 'expected a list of lists of strings' }).nullable().optional() }).nullable().optional(),
  ClusterOptions: obj({}).passthrough().nullable().optional(),
});

/**
 * `ConsoleSize` is `[2]uint` (rows, columns): a missing element is 0, extra ones are ignored
 * (Go fills a fixed array so). moat bounds each to 65535: the kernel's winsize is 16-bit, and
 * a larger value is a client bug, not a terminal.
 */
const consoleSize = z
  .array(
    z.number({ invalid_type_error: 'expected a number' }).refine((n) => Number.isInteger(n) && n >= 0 && n <= 65535, { message: 'expected a terminal size: an integer from 0 to 65535' }),
    { invalid_type_error: 'expected [rows, columns]' },
  )
  .nullable()
  .optional()
  .transform((v) => (v === null || v === undefined ? undefined : ([v[0] ?? 0, v[1] ?? 0] as [number, number])));

export const hostConfigSchema = obj({
  Binds: strings,
  ContainerIDFile: str,
  LogConfig: obj({ Type: str.transform((v) => v ?? ''), Config: stringMap }).nullish().transform((v) => v ?? undefined),
  NetworkMode: str,
  PortBindings: z.record(listOf(obj({ HostIp: str, HostPort: str })), { invalid_type_error: 'expected an object' }).nullable().optional(),
  RestartPolicy: obj({ Name: str.transform((v) => v ?? ''), MaximumRetryCount: int }).nullish().transform((v) => v ?? undefined),
  AutoRemove: bool,
  VolumeDriver: str,
  VolumesFrom: strings,
  ConsoleSize: consoleSize,
  Annotations: stringMap,
  CapAdd: strSlice,
  CapDrop: strSlice,
  CgroupnsMode: str,
  Dns: strings,
  DnsOptions: strings,
  DnsSearch: strings,
  ExtraHosts: strings,
  GroupAdd: strings,
  IpcMode: str,
  Cgroup: str,
  Links: strings,
  OomScoreAdj: int,
  PidMode: str,
  Privileged: bool,
  PublishAllPorts: bool,
  ReadonlyRootfs: bool,
  SecurityOpt: strings,
  StorageOpt: stringMap,
  Tmpfs: stringMap,
  UTSMode: str,
  UsernsMode: str,
  ShmSize: int64,
  Sysctls: stringMap,
  Runtime: str,
  Isolation: str,
  // Resources
  CpuShares: int64,
  Memory: int64,
  NanoCpus: int64,
  CgroupParent: str,
  BlkioWeight: uint16,
  BlkioWeightDevice: listOf(weightDevice),
  BlkioDeviceReadBps: listOf(throttleDevice),
  BlkioDeviceWriteBps: listOf(throttleDevice),
  BlkioDeviceReadIOps: listOf(throttleDevice),
  BlkioDeviceWriteIOps: listOf(throttleDevice),
  CpuPeriod: int64,
  CpuQuota: int64,
  CpuRealtimePeriod: int64,
  CpuRealtimeRuntime: int64,
  CpusetCpus: str,
  CpusetMems: str,
  Devices: listOf(deviceMappingSchema),
  DeviceCgroupRules: strings,
  DeviceRequests: listOf(deviceRequestSchema),
  KernelMemory: int64,
  KernelMemoryTCP: int64,
  MemoryReservation: int64,
  MemorySwap: int64,
  MemorySwappiness: ptrInt64,
  OomKillDisable: ptrBool,
  PidsLimit: ptrInt64,
  Ulimits: listOf(ulimitSchema),
  CpuCount: int64,
  CpuPercent: int64,
  IOMaximumIOps: uint64,
  IOMaximumBandwidth: uint64,
  Mounts: listOf(mountSchema),
  MaskedPaths: strings,
  ReadonlyPaths: strings,
  Init: ptrBool,
  Capabilities: strings,
});

// ---- network.NetworkingConfig ---------------------------------------------------------

const endpointSettings = obj({
  IPAMConfig: obj({ IPv4Address: str, IPv6Address: str, LinkLocalIPs: strings }).nullable().optional(),
  Links: strings,
  Aliases: strings,
  MacAddress: str,
  DriverOpts: stringMap,
  GwPriority: int,
  NetworkID: str,
  EndpointID: str,
  Gateway: str,
  IPAddress: str,
  IPPrefixLen: int,
  IPv6Gateway: str,
  GlobalIPv6Address: str,
  GlobalIPv6PrefixLen: int,
  DNSNames: strings,
});

export const networkingConfigSchema = obj({
  EndpointsConfig: z.record(endpointSettings.nullable(), { invalid_type_error: 'expected an object' }).nullable().optional(),
});

/** The body of `POST /containers/create`: Config at the top level, plus HostConfig and NetworkingConfig. */
export const createBodySchema = obj({
  ...containerConfigShape,
  HostConfig: hostConfigSchema.nullish().transform((v) => v ?? undefined),
  NetworkingConfig: networkingConfigSchema.nullish().transform((v) => v ?? undefined),
});

export type CreateBody = z.output<typeof createBodySchema>;
export type DockerHostConfig = z.output<typeof hostConfigSchema>;

// ---- other bodies ---------------------------------------------------------------------

/** `POST /containers/{id}/exec` (moby `container.ExecOptions`). */
export const execConfigSchema = obj({
  User: str,
  Privileged: bool,
  Tty: bool,
  ConsoleSize: consoleSize,
  AttachStdin: bool,
  AttachStderr: bool,
  AttachStdout: bool,
  Detach: bool,
  DetachKeys: str,
  Env: strings,
  WorkingDir: str,
  Cmd: strSlice,
});
export type ExecConfig = z.output<typeof execConfigSchema>;

/** `POST /exec/{id}/start` (moby `container.ExecStartOptions`). */
export const execStartSchema = obj({ Detach: bool, Tty: bool, ConsoleSize: consoleSize });

/** `POST /volumes/create` (moby `volume.CreateOptions`). */
export const volumeCreateSchema = obj({
  Name: str,
  Driver: str,
  DriverOpts: stringMap,
  Labels: stringMap,
  ClusterVolumeSpec: obj({}).passthrough().nullable().optional(),
});

// ---- reading ----------------------------------------------------------------------------

export interface RequestIssue {
  /** Docker's name of the field: `HostConfig.Ulimits[0].Name`, `Config.Volumes["/a"]`. */
  field: string;
  message: string;
}

/** `['HostConfig','Ulimits',0,'Name']` -> `HostConfig.Ulimits[0].Name`; top-level Config keys get `Config.`. */
export function fieldName(path: ReadonlyArray<string | number>, root?: string): string {
  let out = root ?? '';
  path.forEach((p, i) => {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) out += out === '' && i === 0 ? p : `.${p}`;
    else out += `[${JSON.stringify(p)}]`;
  });
  return out === '' ? 'body' : out;
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'an object' : typeof v === 'string' ? 'a string' : typeof v;
}

/** Value at `path` in `body`, for "got null"-style messages. */
function valueAt(body: unknown, path: ReadonlyArray<string | number>): unknown {
  let v: unknown = body;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

export type Read<T> = { ok: true; value: T } | { ok: false; issues: RequestIssue[] };

/**
 * Read a JSON body with a schema; every problem comes back with Docker's field name.
 * `root` prefixes top-level keys that are not their own struct (`Config` for the create body).
 *
 * @example
 * const r = readRequest(createBodySchema, { Image: 'busybox', HostConfig: { Ulimits: [null] } }, { root: createBodyRoot });
 * // r.ok === false, r.issues[0] = { field: 'HostConfig.Ulimits[0]', message: 'expected an object, got null' }
 */
export function readRequest<S extends z.ZodTypeAny>(schema: S, body: unknown, o: { root?: (topKey: string) => string | undefined } = {}): Read<z.output<S>> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return { ok: true, value: parsed.data as z.output<S> };
  const issues = parsed.error.issues.map((i) => {
    const top = typeof i.path[0] === 'string' ? o.root?.(i.path[0]) : undefined;
    const field = fieldName(i.path, top);
    let message = i.message;
    if (i.code === 'invalid_type') {
      const got = valueAt(body, i.path);
      if (message === 'Required' || /^Expected /.test(message)) message = i.received === 'undefined' ? 'required' : `expected ${i.expected}`;
      message = i.received === 'undefined' ? message : `${message}, got ${describeType(got)}`;
    }
    return { field, message };
  });
  return { ok: false, issues };
}

/** For the create body: HostConfig and NetworkingConfig are their own structs, the rest is Config. */
export function createBodyRoot(topKey: string): string | undefined {
  return topKey === 'HostConfig' || topKey === 'NetworkingConfig' ? undefined : 'Config';
}

/** One line for a 400: `invalid HostConfig.Ulimits[0]: expected an object, got null` (at most 5 issues). */
export function issuesText(issues: readonly RequestIssue[]): string {
  const shown = issues.slice(0, 5).map((i) => `invalid ${i.field}: ${i.message}`);
  if (issues.length > 5) shown.push(`and ${issues.length - 5} more`);
  return shown.join('; ');
}
