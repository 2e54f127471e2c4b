/**
 * What a request will do beyond what its body says, worked out by the code that will do it
 * (moatd injects it: authz imports nothing of the engine) and shown to the policy and, as
 * one header, to every plugin:
 *
 * - the container's effective seccomp filter, compared with the daemon's default: which
 *   syscalls the default blocks and this container's filter would let through
 *   (`seccomp=unconfined`, `seccomp-allow=…`, a custom profile, privileged);
 * - the containers whose namespaces it joins (`--pid/--ipc/--network container:X`), and
 *   whether that namespace is the host's or shared with a privileged container;
 * - the containers whose binds and volumes it takes (`--volumes-from X`), and what they are:
 *   the host paths it will mount though its own body names none.
 *
 * Pure: no I/O.
 */
import { EngineError, invalid, noSuchContainer } from '../base/index.js';
import { getMember, parseJsonTree, parseVolumesFrom, serializeTree, toValue, type CanonicalRequest, type JsonNode } from '../docker/index.js';

/**
 * The header plugins receive (in `RequestHeaders`) on container create. A client cannot set
 * it: a request that carries it is refused.
 *
 * @example
 * // X-Moat-Effects: {"Seccomp":{"Profile":"custom","WeakerThanDefault":["keyctl"]},"Joins":[],"VolumesFrom":[]}
 */
export const EFFECTS_HEADER = 'X-Moat-Effects';

/**
 * The container's seccomp filter against the daemon's default.
 *
 * @example
 * const s: SeccompAssessment = { profile: 'default', weakerThanDefault: ['keyctl'] };
 */
export interface SeccompAssessment {
  /** `default`, `custom`, `unconfined`, or the daemon's profile file. */
  readonly profile: string;
  /**
   * Syscalls the daemon's default profile blocks (for some arguments) that this container's
   * filter permits, sorted; empty when it is as strict or stricter. Undefined: not known.
   */
  readonly weakerThanDefault: readonly string[] | undefined;
  /** Why it could not be worked out (the create will be refused, or the arch is not modelled). */
  readonly error?: string;
}

/** A namespace kind that can be joined with `container:X`. */
export type JoinableNamespace = 'pid' | 'ipc' | 'network';

/**
 * One `container:X` namespace join and what is on the other side.
 *
 * @example
 * const j: JoinedNamespace = { namespace: 'pid', container: 'f00…', privileged: false, host: true };
 */
export interface JoinedNamespace {
  readonly namespace: JoinableNamespace;
  /** The full id it resolved to (the body is rewritten to it), or the reference as given when no container has it. */
  readonly container: string;
  /** A container sharing that namespace is privileged; undefined when the target is unknown. */
  readonly privileged: boolean | undefined;
  /** That namespace is the host's (the target, or whom it joined, uses `host`); undefined when unknown. */
  readonly host: boolean | undefined;
}

/**
 * One `--volumes-from` source and what the new container takes from it.
 *
 * @example
 * const v: VolumesFromEffect = { container: 'f00…', bindSources: ['/srv/data'], volumes: ['cache'] };
 */
export interface VolumesFromEffect {
  /** The full id it resolved to (the body is rewritten to it). */
  readonly container: string;
  /** Host paths of its binds, as authorized for it (canonical), that the new container mounts. */
  readonly bindSources: readonly string[];
  /** Names of its volumes that the new container mounts. */
  readonly volumes: readonly string[];
}

/**
 * What moatd knows about a request beyond its body.
 *
 * @example
 * const e: RequestEffects = { seccomp: { profile: 'custom', weakerThanDefault: ['unshare'] }, joins: [] };
 */
export interface RequestEffects {
  readonly seccomp?: SeccompAssessment | undefined;
  readonly joins?: readonly JoinedNamespace[] | undefined;
  readonly volumesFrom?: readonly VolumesFromEffect[] | undefined;
}

/**
 * What moatd hands the chain: container references to ids, and the effects of a canonical request.
 *
 * @example
 * chain.setInspector({ containerId: (ref) => engine.find(ref)?.Id, effects: async (c) => ({ seccomp: … }) });
 */
export interface RequestInspector {
  /** Full id of a container by name, id or unique id prefix; undefined when there is none. */
  containerId(ref: string): string | undefined;
  /** Effects of a canonical container create (called for no other request). */
  effects(req: CanonicalRequest): Promise<RequestEffects>;
}

const MODE_FIELDS: ReadonlyArray<readonly [JoinableNamespace, string]> = [
  ['pid', 'PidMode'],
  ['ipc', 'IpcMode'],
  ['network', 'NetworkMode'],
];

/**
 * The `container:X` joins a container-create body asks for (references as written).
 *
 * @example
 * joinRefsOf({ HostConfig: { PidMode: 'container:web' } }); // [{ namespace: 'pid', ref: 'web' }]
 */
export function joinRefsOf(body: unknown): Array<{ namespace: JoinableNamespace; ref: string }> {
  const hc = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['HostConfig'] : undefined;
  const out: Array<{ namespace: JoinableNamespace; ref: string }> = [];
  if (typeof hc !== 'object' || hc === null) return out;
  for (const [ns, field] of MODE_FIELDS) {
    const v = (hc as Record<string, unknown>)[field];
    if (typeof v === 'string' && v.startsWith('container:') && v.length > 'container:'.length) out.push({ namespace: ns, ref: v.slice('container:'.length) });
  }
  return out;
}

/** The container of one VolumesFrom entry (`X` of `X[:mode]`); undefined for one that does not parse, which the engine refuses naming the field. */
function volumesFromRef(spec: unknown): string | undefined {
  if (typeof spec !== 'string') return undefined;
  try {
    return parseVolumesFrom(spec).container;
  } catch {
    return undefined;
  }
}

/**
 * The container references of HostConfig.VolumesFrom (`X` of `X[:mode]`), those that parse.
 *
 * @example
 * volumesFromRefsOf({ HostConfig: { VolumesFrom: ['data:ro'] } }); // ['data']
 */
export function volumesFromRefsOf(body: unknown): string[] {
  const hc = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['HostConfig'] : undefined;
  const list = typeof hc === 'object' && hc !== null ? (hc as Record<string, unknown>)['VolumesFrom'] : undefined;
  if (!Array.isArray(list)) return [];
  return list.map(volumesFromRef).filter((ref): ref is string => ref !== undefined);
}

/**
 * Rewrite the container references of a container create to full ids: `container:NAME`
 * modes to `container:<id>` and VolumesFrom's `NAME[:mode]` to `<id>[:mode]`, so the engine
 * joins, and takes the mounts of, exactly the container the plugins and the policy judged (a
 * rename or a new container taking the name cannot redirect it). An unknown reference is
 * refused now (judged later it could name a container made after the decision): a 404 for a
 * join, a 400 for VolumesFrom (moby's statuses).
 *
 * @example
 * const c = resolveContainerReferences(canonical, (ref) => engine.find(ref)?.Id);
 */
export function resolveContainerReferences(req: CanonicalRequest, containerId: (ref: string) => string | undefined): CanonicalRequest {
  if (req.bodyKind !== 'container-create' || req.canonicalBody.length === 0) return req;
  // Most creates name no other container: read from the plain body, not parsed a second time.
  if (joinRefsOf(req.body).length === 0 && volumesFromRefsOf(req.body).length === 0) return req;
  const root: JsonNode = parseJsonTree(req.canonicalBody.toString('utf8'));
  const hc = getMember(root, 'HostConfig');
  let changed = false;
  for (const [, field] of MODE_FIELDS) {
    const node = getMember(hc, field);
    if (node?.t !== 'str' || !node.v.startsWith('container:')) continue;
    const ref = node.v.slice('container:'.length);
    if (ref === '') continue; // the engine refuses it, naming the field
    const id = containerId(ref);
    if (id === undefined) throw noSuchContainer(ref);
    if (id !== ref) {
      node.v = `container:${id}`;
      changed = true;
    }
  }
  const from = getMember(hc, 'VolumesFrom');
  for (const node of from?.t === 'arr' ? from.items : []) {
    const ref = node.t === 'str' ? volumesFromRef(node.v) : undefined;
    if (node.t !== 'str' || ref === undefined) continue; // the engine refuses it
    const id = containerId(ref);
    if (id === undefined) throw invalid(`No such container: ${ref}`);
    if (id !== ref) {
      node.v = id + node.v.slice(ref.length);
      changed = true;
    }
  }
  if (!changed) return req;
  return { ...req, body: toValue(root), canonicalBody: Buffer.from(serializeTree(root), 'utf8') };
}

/**
 * The header's value: Docker-style keys, compact JSON.
 *
 * @example
 * effectsHeaderValue({ seccomp: { profile: 'default', weakerThanDefault: [] }, joins: [] }); // '{"Seccomp":{"Profile":"default","WeakerThanDefault":[]},"Joins":[],"VolumesFrom":[]}'
 */
export function effectsHeaderValue(e: RequestEffects): string {
  const s = e.seccomp;
  return JSON.stringify({
    Seccomp: s === undefined ? null : { Profile: s.profile, WeakerThanDefault: s.weakerThanDefault ?? null, ...(s.error !== undefined ? { Error: s.error } : {}) },
    Joins: (e.joins ?? []).map((j) => ({ Namespace: j.namespace, Container: j.container, Privileged: j.privileged ?? null, HostNamespace: j.host ?? null })),
    VolumesFrom: (e.volumesFrom ?? []).map((v) => ({ Container: v.container, BindSources: v.bindSources, Volumes: v.volumes })),
  });
}

/** A client may not send the header moatd sets. */
export function refuseEffectsHeader(headers: Readonly<Record<string, unknown>>): void {
  for (const k of Object.keys(headers)) {
    if (k.toLowerCase() === EFFECTS_HEADER.toLowerCase()) {
      throw new EngineError('invalid', 'ERR_AUTHZ_BAD_REQUEST_HEADER', `Cannot authorize request: the ${EFFECTS_HEADER} header is set by the daemon, not by clients`);
    }
  }
}
