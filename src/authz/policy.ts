/**
 * The built-in authorization policy: a JSON rules file, the facts a request asks for, and
 * a first-match evaluation. Used in-process by moatd and, through plugin-server.ts, as a
 * standalone AuthZ plugin for a stock dockerd.
 *
 * The policy judges canonical requests (canonical.ts): a version-less cleaned path and a
 * body whose keys are exactly Docker's. It never sees raw bytes.
 *
 * Pure: no I/O (the file is read by the caller).
 */
import { z } from 'zod';
import { EngineError } from '../base/index.js';
import { bodyKindFor, bindSourcesOf, cleanAbsolutePath, isPathWithin, JsonSyntaxError, parseJsonTree, toValue, type ApiMount, type BodyKind, type JsonNode, type JsonValue } from '../docker/index.js';
import { joinRefsOf, type JoinableNamespace, type RequestEffects } from './effects.js';

export const NAMESPACES = ['pid', 'ipc', 'uts', 'network', 'userns', 'cgroupns'] as const;
export type HostNamespace = (typeof NAMESPACES)[number];

const JOINABLE = ['pid', 'ipc', 'network'] as const;

export const UNCONFINED_KINDS = ['seccomp', 'apparmor', 'selinux', 'systempaths', 'seccomp-profile'] as const;
export type UnconfinedKind = (typeof UNCONFINED_KINDS)[number];
/** What `"unconfined": true` means: every kind except a custom seccomp profile. */
const UNCONFINED_DEFAULT: readonly UnconfinedKind[] = ['seccomp', 'apparmor', 'selinux', 'systempaths'];

/**
 * The security-relevant facts of one request, extracted from its canonical body.
 *
 * @example
 * const { privileged, bindSources } = extractFacts('POST', '/containers/create', body);
 */
export interface RequestFacts {
  kind: BodyKind | undefined;
  /** Container create or exec create with Privileged: true. */
  privileged: boolean;
  /** Added capabilities, upper case without CAP_ (`ALL` stays `ALL`), from CapAdd and Capabilities. */
  capAdd: string[];
  hostNamespaces: HostNamespace[];
  /**
   * Host paths mounted: bind sources, Mounts[].Source, local-volume `device` options, and the
   * binds a `--volumes-from` source brings; `volumes-from:X` when those of X are not known
   * here (behind dockerd), which no `bindOutside` prefix matches.
   */
  bindSources: string[];
  /** PathOnHost of Devices, `cgroup-rule:R` per DeviceCgroupRules entry, `request:DRIVER` per DeviceRequests entry. */
  devices: string[];
  unconfined: UnconfinedKind[];
  /** The User of an exec create or a container create ('' when unset). */
  user: string | undefined;
  /** Containers whose volumes (and bind mounts) a create takes (HostConfig.VolumesFrom). */
  volumesFrom: string[];
  /** The binds of bindSources that come from a `--volumes-from` source, and which one. */
  inheritedBinds: Array<{ source: string; container: string }>;
  /** HostConfig.CgroupParent of a create as given ('' when unset). */
  cgroupParent: string;
  /**
   * Syscalls the daemon's default seccomp profile blocks that this container's effective
   * filter permits ([] when none); undefined when it cannot be known here (no assessment
   * given, e.g. behind dockerd, and the request changes seccomp).
   */
  seccompWeaker: readonly string[] | undefined;
  /** The effective profile's name when assessed (`default`, `custom`, `unconfined`, …). */
  seccompProfile: string | undefined;
  /** Why the assessment failed, when it did. */
  seccompError: string | undefined;
  /**
   * Host addresses a create publishes ports on (PortBindings' HostIp; `default` for a
   * binding that names none and for -P: the daemon's `--ip`, 127.0.0.1 in moat).
   */
  publishAddresses: string[];
  /** `container:X` namespace joins; `privileged` / `host` undefined when the target is not known here. */
  joins: Array<{ namespace: JoinableNamespace; container: string; privileged: boolean | undefined; host: boolean | undefined }>;
}

type Obj = Record<string, JsonValue>;
const isObj = (v: JsonValue | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const field = (o: JsonValue | undefined, k: string): JsonValue | undefined => (isObj(o) && Object.hasOwn(o, k) ? o[k] : undefined);
const strings = (v: JsonValue | undefined): string[] =>
  typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** `cap_sys_admin`, `CAP_SYS_ADMIN` and `SYS_ADMIN` all become `SYS_ADMIN`. */
export function normalizeCapability(name: string): string {
  const up = name.trim().toUpperCase();
  return up.startsWith('CAP_') ? up.slice(4) : up;
}

/**
 * Split one SecurityOpt as dockerd and the engine do: at the first `=` if there is one, else
 * at the first `:` (the old form); a bare `disable` is `label=disable`. The canonical body
 * already spells these as `key=value` (canonical.ts); this reads raw bodies the same way.
 */
function splitSecurityOpt(opt: string): [string, string] | undefined {
  if (opt === 'disable') return ['label', 'disable'];
  const eq = opt.indexOf('=');
  const sep = eq >= 0 ? eq : opt.indexOf(':');
  if (sep < 0) return undefined;
  return [opt.slice(0, sep), opt.slice(sep + 1)];
}

/** True when a SecurityOpt changes the container's seccomp filter (seccomp=, seccomp-allow=, seccomp-deny=). */
function touchesSeccomp(opt: string): boolean {
  const kv = splitSecurityOpt(opt);
  return kv !== undefined && kv[0].trim().toLowerCase().startsWith('seccomp');
}

function unconfinedOf(securityOpt: string[]): UnconfinedKind[] {
  const out = new Set<UnconfinedKind>();
  for (const opt of securityOpt) {
    const kv = splitSecurityOpt(opt);
    if (!kv) continue;
    // Case and spaces are matched loosely: the engine refuses those spellings, so matching
    // them here can only deny more.
    const key = kv[0].trim().toLowerCase();
    const value = kv[1].trim();
    if (key === 'seccomp') out.add(value.toLowerCase() === 'unconfined' ? 'seccomp' : 'seccomp-profile');
    else if (key === 'apparmor' && value.toLowerCase() === 'unconfined') out.add('apparmor');
    else if (key === 'label' && value.toLowerCase() === 'disable') out.add('selinux');
    else if (key === 'systempaths' && value.toLowerCase() === 'unconfined') out.add('systempaths');
  }
  return [...out];
}

function devicePath(v: JsonValue | undefined): string | undefined {
  const d = field(v, 'device');
  return typeof d === 'string' && d.startsWith('/') ? cleanAbsolutePath(d) : undefined;
}

/**
 * The facts of a request. Only container create, exec create, container update and volume
 * create carry any; other requests have none.
 *
 * @example
 * extractFacts('POST', '/containers/create', { HostConfig: { Privileged: true } }).privileged // true
 */
export function extractFacts(method: string, path: string, body: JsonValue | undefined, query?: ReadonlyArray<readonly [string, string]>, effects?: RequestEffects): RequestFacts {
  const kind = bodyKindFor(method, path)?.kind;
  const facts: RequestFacts = {
    kind, privileged: false, capAdd: [], hostNamespaces: [], bindSources: [], devices: [], unconfined: [], user: undefined, volumesFrom: [], inheritedBinds: [], cgroupParent: '',
    seccompWeaker: [], seccompProfile: undefined, seccompError: undefined, joins: [], publishAddresses: [],
  };
  if (method === 'POST' && path === '/build') {
    // RUN steps of a build run with the network named in the query.
    const mode = query?.find(([k]) => k === 'networkmode')?.[1];
    if (mode !== undefined && mode.trim().toLowerCase() === 'host') facts.hostNamespaces.push('network');
    return facts;
  }
  if (kind === 'exec-create') {
    facts.privileged = field(body, 'Privileged') === true;
    const u = field(body, 'User');
    facts.user = typeof u === 'string' ? u : '';
    return facts;
  }
  if (kind === 'volume-create') {
    const dev = devicePath(field(body, 'DriverOpts'));
    if (dev !== undefined) facts.bindSources.push(dev);
    return facts;
  }
  if (kind !== 'container-create' && kind !== 'container-update') return facts;
  const hc = kind === 'container-create' ? field(body, 'HostConfig') : body;
  if (kind === 'container-create') {
    const u = field(body, 'User');
    facts.user = typeof u === 'string' ? u : '';
    facts.privileged = field(hc, 'Privileged') === true;
    facts.capAdd = [...strings(field(hc, 'CapAdd')), ...strings(field(hc, 'Capabilities'))].map(normalizeCapability);
    const modes: Array<[HostNamespace, string]> = [
      ['pid', 'PidMode'], ['ipc', 'IpcMode'], ['uts', 'UTSMode'], ['network', 'NetworkMode'], ['userns', 'UsernsMode'], ['cgroupns', 'CgroupnsMode'],
    ];
    // Docker compares "host" exactly; a case variant is refused here too rather than trusted.
    for (const [ns, key] of modes) {
      const v = field(hc, key);
      if (typeof v === 'string' && v.trim().toLowerCase() === 'host') facts.hostNamespaces.push(ns);
    }
    // The engine's own mount parser says which entries are binds and what their sources are.
    const mounts = field(hc, 'Mounts');
    const mountItems = Array.isArray(mounts) ? mounts.filter(isObj) : [];
    facts.bindSources.push(...bindSourcesOf({ Binds: strings(field(hc, 'Binds')), Mounts: mountItems as ApiMount[] }));
    for (const m of mountItems) {
      const dev = devicePath(field(field(field(m, 'VolumeOptions'), 'DriverConfig'), 'Options'));
      if (dev !== undefined) facts.bindSources.push(dev);
    }
    facts.volumesFrom = strings(field(hc, 'VolumesFrom'));
    // The binds it takes from other containers are host paths it mounts too.
    if (effects?.volumesFrom !== undefined) {
      facts.inheritedBinds = effects.volumesFrom.flatMap((v) => v.bindSources.map((source) => ({ source, container: v.container })));
      facts.bindSources.push(...facts.inheritedBinds.map((b) => b.source));
    } else facts.bindSources.push(...facts.volumesFrom.map((spec) => `volumes-from:${spec}`));
    const cgroupParent = field(hc, 'CgroupParent');
    facts.cgroupParent = typeof cgroupParent === 'string' ? cgroupParent : '';
    facts.publishAddresses = publishAddressesOf(hc);
    const securityOpt = strings(field(hc, 'SecurityOpt'));
    facts.unconfined = unconfinedOf(securityOpt);
    if (effects?.seccomp !== undefined) {
      facts.seccompWeaker = effects.seccomp.weakerThanDefault;
      facts.seccompProfile = effects.seccomp.profile;
      facts.seccompError = effects.seccomp.error;
    } else if (facts.privileged || securityOpt.some(touchesSeccomp)) {
      // Without the daemon's assessment, a changed filter cannot be compared here.
      facts.seccompWeaker = undefined;
    }
    facts.joins = effects?.joins !== undefined
      ? effects.joins.map((j) => ({ namespace: j.namespace, container: j.container, privileged: j.privileged, host: j.host }))
      : joinRefsOf(body).map((j) => ({ namespace: j.namespace, container: j.ref, privileged: undefined, host: undefined }));
    // Joining a namespace that is the host's is the same as asking for the host's.
    for (const j of facts.joins) if (j.host === true && !facts.hostNamespaces.includes(j.namespace)) facts.hostNamespaces.push(j.namespace);
    // Explicit MaskedPaths/ReadonlyPaths replace Docker's defaults (null keeps them).
    if ((Array.isArray(field(hc, 'MaskedPaths')) || Array.isArray(field(hc, 'ReadonlyPaths'))) && !facts.unconfined.includes('systempaths')) {
      facts.unconfined.push('systempaths');
    }
  }
  const devices = field(hc, 'Devices');
  if (Array.isArray(devices)) {
    for (const d of devices) {
      const p = field(d, 'PathOnHost');
      if (typeof p === 'string') facts.devices.push(p.startsWith('/') ? cleanAbsolutePath(p) : p);
    }
  }
  for (const r of strings(field(hc, 'DeviceCgroupRules'))) facts.devices.push(`cgroup-rule:${r}`);
  const reqs = field(hc, 'DeviceRequests');
  if (Array.isArray(reqs)) for (const r of reqs) facts.devices.push(`request:${String(field(r, 'Driver') ?? '')}`);
  return facts;
}

/** Every host address a HostConfig publishes on (`default` when it names none), once each. */
function publishAddressesOf(hc: JsonValue | undefined): string[] {
  const out = new Set<string>();
  const bindings = field(hc, 'PortBindings');
  if (isObj(bindings)) {
    for (const list of Object.values(bindings)) {
      const items = Array.isArray(list) && list.length > 0 ? list : [{}];
      for (const b of items) {
        const ip = field(b, 'HostIp');
        out.add(typeof ip === 'string' && ip.trim() !== '' ? ip.trim() : 'default');
      }
    }
  }
  if (field(hc, 'PublishAllPorts') === true) out.add('default');
  return [...out];
}

// ---------------------------------------------------------------------------------------
// The rules file

const absPath = z.string().refine((s) => s.startsWith('/'), { message: 'must be an absolute path' });
const nonEmpty = z.string().min(1);

const WhenSchema = z
  .object({
    privileged: z.boolean(),
    capAddBeyond: z.array(nonEmpty),
    hostNamespaces: z.union([z.literal(true), z.array(z.enum(NAMESPACES)).min(1)]),
    usernsHost: z.boolean(),
    binds: z.boolean(),
    bindOutside: z.array(absPath),
    devices: z.boolean(),
    unconfined: z.union([z.literal(true), z.array(z.enum(UNCONFINED_KINDS)).min(1)]),
    execAsRoot: z.boolean(),
    volumesFrom: z.boolean(),
    cgroupParent: z.boolean(),
    seccompWeakerThanDefault: z.union([z.literal(true), z.array(nonEmpty).min(1)]),
    joinsContainer: z.union([z.literal(true), z.array(z.enum(JOINABLE)).min(1)]),
    joinsPrivileged: z.literal(true),
    publishOutside: z.array(z.string().regex(/^(default|\d{1,3}(\.\d{1,3}){3})$/, 'must be an IPv4 address or "default"')),
  })
  .partial()
  .strict();

const RuleSchema = z
  .object({
    id: nonEmpty.optional(),
    description: z.string().optional(),
    action: z.enum(['allow', 'deny']),
    message: z.string().optional(),
    users: z.array(nonEmpty).min(1).optional(),
    groups: z.array(nonEmpty).min(1).optional(),
    methods: z.array(z.string().regex(/^[A-Za-z]+$/, 'must be an HTTP method')).min(1).optional(),
    endpoints: z.array(z.string().regex(/^\//, 'must start with "/"')).min(1).optional(),
    when: WhenSchema.optional(),
  })
  .strict();

const PolicySchema = z
  .object({
    version: z.literal(1).optional(),
    default: z.enum(['allow', 'deny']),
    groups: z.record(z.array(nonEmpty)).optional(),
    rules: z.array(RuleSchema),
  })
  .strict();

export type PolicyFile = z.infer<typeof PolicySchema>;
type When = z.infer<typeof WhenSchema>;

interface CompiledRule {
  readonly id: string;
  readonly index: number;
  readonly action: 'allow' | 'deny';
  readonly description: string | undefined;
  readonly message: string | undefined;
  readonly users: ReadonlySet<string> | undefined;
  readonly groups: ReadonlySet<string> | undefined;
  readonly methods: ReadonlySet<string> | undefined;
  readonly endpoints: readonly RegExp[] | undefined;
  readonly when: When;
}

declare const checked: unique symbol;
/**
 * A validated policy. Only `parsePolicy` / `compilePolicy` make one.
 *
 * @example
 * const policy: Policy = parsePolicy(await fs.promises.readFile('/etc/moat/authz.json', 'utf8'));
 */
export interface Policy {
  readonly [checked]: true;
  readonly default: 'allow' | 'deny';
  readonly rules: readonly CompiledRule[];
  /** group name → member user names, from the file */
  readonly groupMembers: ReadonlyMap<string, ReadonlySet<string>>;
}

/** `*` is one path segment (or part of one), `**` any number of segments. */
function endpointRegExp(pattern: string): RegExp {
  const clean = pattern === '/' ? '/' : pattern.replace(/\/+$/, '').replace(/\/{2,}/g, '/');
  let re = '';
  for (let i = 0; i < clean.length; i++) {
    const c = clean[i]!;
    if (clean.startsWith('/**', i)) {
      re += '(?:/.*)?';
      i += 2;
    } else if (clean.startsWith('**', i)) {
      re += '.*';
      i += 1;
    } else if (c === '*') re += '[^/]*';
    else re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function issuesText(issues: ReadonlyArray<{ path: ReadonlyArray<string | number>; message: string }>): string {
  return issues
    .map((i) => {
      let p = '';
      for (const s of i.path) p += typeof s === 'number' ? `[${s}]` : p === '' ? s : `.${s}`;
      return `${p || '(top level)'}: ${i.message}`;
    })
    .join('; ');
}

/**
 * Validate a policy object (already parsed JSON). Throws EngineError 'invalid' listing
 * every issue with its path.
 *
 * @example
 * const policy = compilePolicy({ default: 'deny', rules: [{ id: 'all', action: 'allow', users: ['*'] }] });
 */
export function compilePolicy(doc: unknown): Policy {
  const parsed = PolicySchema.safeParse(doc);
  if (!parsed.success) {
    throw new EngineError('invalid', 'ERR_AUTHZ_BAD_POLICY', `Invalid authorization policy: ${issuesText(parsed.error.issues)}`);
  }
  const file = parsed.data;
  const ids = new Set<string>();
  const issues: Array<{ path: Array<string | number>; message: string }> = [];
  const rules = file.rules.map((r, index): CompiledRule => {
    const id = r.id ?? `#${index}`;
    if (ids.has(id)) issues.push({ path: ['rules', index, 'id'], message: `duplicate rule id ${JSON.stringify(id)}` });
    ids.add(id);
    const when: When = { ...r.when };
    if (when.capAddBeyond) when.capAddBeyond = when.capAddBeyond.map(normalizeCapability);
    if (when.bindOutside) when.bindOutside = when.bindOutside.map(cleanAbsolutePath);
    return {
      id,
      index,
      action: r.action,
      description: r.description,
      message: r.message,
      users: r.users ? new Set(r.users) : undefined,
      groups: r.groups ? new Set(r.groups) : undefined,
      methods: r.methods ? new Set(r.methods.map((m) => m.toUpperCase())) : undefined,
      endpoints: r.endpoints?.map(endpointRegExp),
      when,
    };
  });
  if (issues.length > 0) throw new EngineError('invalid', 'ERR_AUTHZ_BAD_POLICY', `Invalid authorization policy: ${issuesText(issues)}`);
  const groupMembers = new Map<string, ReadonlySet<string>>();
  for (const [g, members] of Object.entries(file.groups ?? {})) groupMembers.set(g, new Set(members));
  return { default: file.default, rules, groupMembers } as unknown as Policy;
}

function findDuplicateKey(node: JsonNode, path: string): string | undefined {
  if (node.t === 'obj') {
    const seen = new Set<string>();
    for (const [k, v] of node.entries) {
      if (seen.has(k)) return `${path || '(top level)'}: duplicate key ${JSON.stringify(k)}`;
      seen.add(k);
      const inner = findDuplicateKey(v, path ? `${path}.${k}` : k);
      if (inner) return inner;
    }
  } else if (node.t === 'arr') {
    for (let i = 0; i < node.items.length; i++) {
      const inner = findDuplicateKey(node.items[i]!, `${path}[${i}]`);
      if (inner) return inner;
    }
  }
  return undefined;
}

/**
 * Parse and validate a policy file's text (JSON only; duplicate keys are an error).
 *
 * @example
 * const policy = parsePolicy('{"default":"allow","rules":[{"id":"no-priv","action":"deny","when":{"privileged":true}}]}');
 */
export function parsePolicy(text: string): Policy {
  let tree: JsonNode;
  try {
    tree = parseJsonTree(text.replace(/^\ufeff/, ''));
  } catch (err) {
    const why = err instanceof JsonSyntaxError ? err.message : String(err);
    throw new EngineError('invalid', 'ERR_AUTHZ_BAD_POLICY', `Invalid authorization policy: ${why}`, { cause: err });
  }
  const dup = findDuplicateKey(tree, '');
  if (dup) throw new EngineError('invalid', 'ERR_AUTHZ_BAD_POLICY', `Invalid authorization policy: ${dup}`);
  return compilePolicy(toValue(tree));
}

// ---------------------------------------------------------------------------------------
// Evaluation

/**
 * What the policy judges.
 *
 * @example
 * const r: PolicyRequest = { user: 'alice', groups: ['dev'], method: 'POST', path: '/containers/create', body };
 */
export interface PolicyRequest {
  /** User name (TLS CN, or the unix peer's name); undefined when unauthenticated. */
  user?: string | undefined;
  groups?: readonly string[] | undefined;
  method: string;
  /** Canonical path; a leading /vX.Y is ignored. */
  path: string;
  body: JsonValue | undefined;
  /** Decoded query pairs (canonical.queryParams); only `/build?networkmode=` is read. */
  query?: ReadonlyArray<readonly [string, string]> | undefined;
  /** What moatd worked out the request will do (effective seccomp, joined containers). */
  effects?: RequestEffects | undefined;
}

/**
 * A decision and the rule that made it.
 *
 * @example
 * const d: PolicyDecision = { allow: false, rule: 'no-privileged', msg: 'privileged containers are not allowed (rule no-privileged)' };
 */
export interface PolicyDecision {
  allow: boolean;
  /** The rule that decided (its id, or `#index`), or `default`. */
  rule: string;
  msg: string;
}

/**
 * A user token matching requests without an identity.
 *
 * @example
 * { "id": "anon-ping", "action": "allow", "users": ["@anonymous"], "endpoints": ["/_ping"] }
 */
export const ANONYMOUS = '@anonymous';

/** `''`, `root`, `0`, `0000`, each optionally with `:group`. */
function isRootUser(user: string): boolean {
  const name = user.split(':')[0]!.trim();
  return name === '' || name === 'root' || /^0+$/.test(name);
}

/** `a, b, c and 4 more` */
function nameList(names: readonly string[], max = 8): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

function seccompDetail(f: RequestFacts, names: readonly string[] | undefined): string {
  if (names === undefined) return `the container's seccomp filter cannot be compared with the default here${f.seccompError ? ` (${f.seccompError})` : ''}`;
  return `seccomp profile ${f.seccompProfile ?? '(changed)'} permits ${nameList(names)}, which the default profile blocks`;
}

/**
 * Whether a rule's conditions hold, with what to add to its message. A fact that cannot be
 * known here (no daemon assessment, e.g. behind dockerd) makes a deny rule match and an
 * allow rule not: unknown never allows.
 */
function whenMatches(when: When, f: RequestFacts, action: 'allow' | 'deny'): string[] | undefined {
  const details: string[] = [];
  const unknownMatches = action === 'deny';
  if (when.privileged !== undefined && when.privileged !== f.privileged) return undefined;
  if (when.capAddBeyond !== undefined) {
    const allowed = new Set(when.capAddBeyond);
    if (!f.privileged && !f.capAdd.some((c) => !allowed.has(c))) return undefined;
  }
  if (when.hostNamespaces !== undefined) {
    const want: readonly string[] = when.hostNamespaces === true ? NAMESPACES : when.hostNamespaces;
    if (!f.hostNamespaces.some((ns) => want.includes(ns))) {
      const unknown = f.joins.filter((j) => j.host === undefined && want.includes(j.namespace));
      if (!(unknownMatches && unknown.length > 0)) return undefined;
      details.push(`joins the ${unknown.map((j) => j.namespace).join(', ')} namespace of ${unknown[0]!.container}, which cannot be checked here`);
    } else {
      const viaJoin = f.joins.filter((j) => j.host === true && want.includes(j.namespace));
      if (viaJoin.length > 0) details.push(`joins the host's ${viaJoin.map((j) => j.namespace).join(', ')} namespace through container ${viaJoin[0]!.container}`);
    }
  }
  if (when.usernsHost !== undefined && when.usernsHost !== f.hostNamespaces.includes('userns')) return undefined;
  if (when.binds !== undefined && when.binds !== f.bindSources.length > 0) return undefined;
  if (when.bindOutside !== undefined) {
    const prefixes = when.bindOutside;
    const outside = f.bindSources.filter((src) => !src.startsWith('/') || !prefixes.some((pre) => isPathWithin(src, pre)));
    if (outside.length === 0) return undefined;
    // Say so when the path is not in the request's own body.
    for (const src of outside) {
      const via = f.inheritedBinds.find((b) => b.source === src);
      if (via !== undefined) details.push(`mounts ${src} through --volumes-from ${via.container}`);
      else if (src.startsWith('volumes-from:')) details.push(`takes the mounts of ${src.slice('volumes-from:'.length)}, which cannot be checked here`);
    }
  }
  if (when.devices !== undefined && when.devices !== f.devices.length > 0) return undefined;
  if (when.unconfined !== undefined) {
    const want = when.unconfined === true ? UNCONFINED_DEFAULT : when.unconfined;
    if (!f.unconfined.some((k) => want.includes(k))) {
      // `seccomp` also means anything that leaves the filter weaker than the default:
      // seccomp-allow, a custom profile, an ALLOW default (issue 11 finding 4).
      if (!want.includes('seccomp')) return undefined;
      if (f.seccompWeaker === undefined ? !unknownMatches : f.seccompWeaker.length === 0) return undefined;
      details.push(seccompDetail(f, f.seccompWeaker));
    }
  }
  if (when.seccompWeakerThanDefault !== undefined) {
    const list = when.seccompWeakerThanDefault;
    if (f.seccompWeaker === undefined) {
      if (!unknownMatches) return undefined;
      details.push(seccompDetail(f, undefined));
    } else {
      const hit = list === true ? f.seccompWeaker : f.seccompWeaker.filter((n) => list.includes(n));
      if (hit.length === 0) return undefined;
      details.push(seccompDetail(f, hit));
    }
  }
  if (when.joinsContainer !== undefined) {
    const want: readonly string[] = when.joinsContainer === true ? JOINABLE : when.joinsContainer;
    const hit = f.joins.filter((j) => want.includes(j.namespace));
    if (hit.length === 0) return undefined;
    details.push(`joins the ${hit.map((j) => j.namespace).join(', ')} namespace of container ${hit[0]!.container}`);
  }
  if (when.joinsPrivileged !== undefined) {
    const priv = f.joins.filter((j) => j.privileged === true);
    const unknown = f.joins.filter((j) => j.privileged === undefined);
    if (priv.length > 0) details.push(`joins the ${priv.map((j) => j.namespace).join(', ')} namespace of privileged container ${priv[0]!.container}`);
    else if (unknownMatches && unknown.length > 0) details.push(`joins the ${unknown.map((j) => j.namespace).join(', ')} namespace of ${unknown[0]!.container}, which cannot be checked here`);
    else return undefined;
  }
  if (when.publishOutside !== undefined) {
    const allowed = when.publishOutside;
    const outside = f.publishAddresses.filter((a) => !allowed.includes(a));
    if (outside.length === 0) return undefined;
    details.push(`publishes ports on ${outside.join(', ')}`);
  }
  if (when.volumesFrom !== undefined && when.volumesFrom !== f.volumesFrom.length > 0) return undefined;
  if (when.cgroupParent !== undefined && when.cgroupParent !== (f.cgroupParent !== '')) return undefined;
  if (when.execAsRoot !== undefined) {
    // An exec without User runs as the container's user, which is root in most images.
    const asRoot = f.kind === 'exec-create' && isRootUser(f.user ?? '');
    if (when.execAsRoot !== asRoot) return undefined;
  }
  return details;
}

function subjectMatches(rule: CompiledRule, req: PolicyRequest, groups: ReadonlySet<string>): boolean {
  if (!rule.users && !rule.groups) return true;
  if (rule.users) {
    if (req.user === undefined || req.user === '') {
      if (rule.users.has(ANONYMOUS)) return true;
    } else if (rule.users.has(req.user) || rule.users.has('*')) return true;
  }
  if (rule.groups) for (const g of groups) if (rule.groups.has(g)) return true;
  return false;
}

/**
 * Decide a request: the first rule (in file order) whose subject, method, endpoint and
 * `when` conditions all match decides; otherwise the policy's default.
 *
 * @example
 * evaluatePolicy(policy, { user: 'alice', method: 'POST', path: '/containers/create', body: { HostConfig: { Privileged: true } } })
 * // { allow: false, rule: 'no-privileged', msg: 'privileged containers are not allowed (rule no-privileged)' }
 */
export function evaluatePolicy(policy: Policy, req: PolicyRequest): PolicyDecision {
  const method = req.method.toUpperCase();
  const path = req.path.replace(/^\/v[0-9.]+(?=\/|$)/, '') || '/';
  const facts = extractFacts(method, path, req.body, req.query, req.effects);
  const groups = new Set(req.groups ?? []);
  if (req.user) for (const [g, members] of policy.groupMembers) if (members.has(req.user)) groups.add(g);
  for (const rule of policy.rules) {
    if (!subjectMatches(rule, req, groups)) continue;
    if (rule.methods && !rule.methods.has(method)) continue;
    if (rule.endpoints && !rule.endpoints.some((re) => re.test(path))) continue;
    const details = whenMatches(rule.when, facts, rule.action);
    if (details === undefined) continue;
    if (rule.action === 'allow') return { allow: true, rule: rule.id, msg: rule.message ?? `allowed by rule ${rule.id}` };
    const text = rule.message ?? rule.description ?? 'denied by policy';
    return { allow: false, rule: rule.id, msg: `${text}${details.length > 0 ? `: ${details.join('; ')}` : ''} (rule ${rule.id})` };
  }
  return policy.default === 'allow'
    ? { allow: true, rule: 'default', msg: 'no rule matched; the default is allow' }
    : { allow: false, rule: 'default', msg: 'no rule matched; the default is deny' };
}
