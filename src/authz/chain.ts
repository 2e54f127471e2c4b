/**
 * The authorization chain: plugins in configured order, every one must allow, the first
 * deny or error stops the chain (moby/moby `pkg/authorization/authz.go`), and nothing
 * fails open - an unreachable, slow, erroring or incoherent plugin denies the request.
 *
 * The chain also owns the canonical form: `authorizeRequest` canonicalizes the request
 * (canonical.ts) and resolves host paths before any plugin sees it, and returns that
 * canonical request for the router and the handler. What was authorized is what runs.
 *
 * No I/O of its own: plugins and `realpath` are handed in.
 */
import { EngineError, errorText, type Logger } from '../base/index.js';
import { buildAuditRecord, type AuditDecision, type AuditPhase, type AuditRecord } from './audit.js';
import { canonicalizeRequest, resolveBindSources, DEFAULT_MAX_BODY, type CanonicalRequest, type HeaderMap } from '../docker/index.js';
import { EFFECTS_HEADER, effectsHeaderValue, refuseEffectsHeader, resolveContainerReferences, type RequestEffects, type RequestInspector } from './effects.js';
import { buildWireRequest, buildWireResponse, type AuthZWireRequest, type AuthZWireResponse, type Identity, type ResponseInfo } from './wire.js';

/**
 * What the chain knows beyond the wire, for in-process plugins (the built-in policy).
 *
 * @example
 * async authZReq(_wire, ctx) { return { Allow: ctx.identity.uid === 0 }; }
 */
export interface AuthzContext {
  readonly identity: Identity;
  readonly canonical: CanonicalRequest;
  readonly requestId: string | undefined;
  /** What the request will do beyond its body (container create with an inspector set). */
  readonly effects?: RequestEffects | undefined;
}

/**
 * A plugin reply; in-process plugins may name the rule that decided.
 *
 * @example
 * const reply: AuthzReply = { Allow: false, Msg: 'no', rule: 'no-privileged' };
 */
export type AuthzReply = AuthZWireResponse & { rule?: string };

/**
 * One authorization plugin. Remote plugins (PluginClient) use the wire request; the
 * built-in policy (PolicyPlugin) reads the context. A new kind of plugin adds a class.
 *
 * @example
 * const denyAll: AuthzPlugin = { name: 'deny-all', authZReq: async () => ({ Allow: false, Msg: 'closed' }), authZRes: async () => ({ Allow: true }) };
 */
export interface AuthzPlugin {
  readonly name: string;
  authZReq(req: AuthZWireRequest, ctx: AuthzContext): Promise<AuthzReply>;
  authZRes(req: AuthZWireRequest, ctx: AuthzContext): Promise<AuthzReply>;
}

/**
 * What the server hands to `authorizeRequest`.
 *
 * @example
 * const input: AuthzRequestInput = { identity, method: req.method!, rawUrl: req.url!, headers: req.headersDistinct, body, requestId };
 */
export interface AuthzRequestInput {
  identity: Identity;
  method: string;
  /** `req.url` as received. */
  rawUrl: string;
  /** `req.headersDistinct` (or `req.headers`). */
  headers: HeaderMap;
  /** The complete body, or undefined for routes whose body is a raw stream. */
  body: Buffer | undefined;
  /** DER certificates of the TLS client, leaf first. */
  peerCertificates?: readonly Uint8Array[] | undefined;
  requestId?: string | undefined;
}

/**
 * An authorized request. Route on `canonical.path`, hand `canonical.canonicalBody` to the handler.
 *
 * @example
 * const authorized = await chain.authorizeRequest(input);
 * const route = router.match(authorized.canonical.method, authorized.canonical.path);
 */
export interface AuthorizedRequest {
  readonly canonical: CanonicalRequest;
  readonly identity: Identity;
  readonly wire: AuthZWireRequest;
  /** The plugins that authorized the request; the response phase uses the same list. */
  readonly plugins: readonly AuthzPlugin[];
  readonly requestId: string | undefined;
}

/**
 * The handler's answer for the response phase.
 *
 * @example
 * await chain.authorizeResponse(authorized, { statusCode: 201, headers: { 'content-type': 'application/json' }, body });
 */
export interface ResponseInput extends ResponseInfo {
  /**
   * The response was streamed or the connection hijacked: plugins are told (as dockerd does
   * when the stream ends) but their decision cannot be enforced; it is logged and audited.
   */
  streamed?: boolean | undefined;
}

/**
 * Dependencies and limits of the chain.
 *
 * @example
 * new AuthzChain(plugins, { log, realpath: (p) => fs.promises.realpath(p), audit: (rec) => auditLog.info(rec) });
 */
export interface ChainOptions {
  log?: Logger | undefined;
  /** Receives every decision; by default denies and errors are logged at warn, allows at debug. */
  audit?: ((rec: AuditRecord) => void) | undefined;
  /** Resolves symlinks in host paths before authorization (normally `fs.promises.realpath`). */
  realpath?: ((p: string) => Promise<string>) | undefined;
  /** Largest request body, bytes (default 1 MiB); larger is 413. */
  maxBody?: number | undefined;
  /** Largest JSON response body sent to AuthZRes, bytes (default 4 MiB); larger fails closed. */
  maxResponseBody?: number | undefined;
  /** Container ids for `container:X` joins and a create's effects (moatd's engine); see setInspector. */
  inspector?: RequestInspector | undefined;
}

/**
 * Code of a plugin's deny (403).
 *
 * @example
 * if (err instanceof EngineError && err.code === ERR_AUTHZ_DENIED) audit.denied++;
 */
export const ERR_AUTHZ_DENIED = 'ERR_AUTHZ_DENIED';
/**
 * A plugin failed. The kind is 'internal' (500, as Docker) but the API layer must show this
 * message to the client rather than its generic internal-error text: Docker does, and the
 * operator needs it.
 *
 * @example
 * if (err instanceof EngineError && err.code === ERR_AUTHZ_PLUGIN_FAILED) return { status: 500, body: { message: err.message } };
 */
export const ERR_AUTHZ_PLUGIN_FAILED = 'ERR_AUTHZ_PLUGIN_FAILED';

/**
 * `authorization denied by plugin NAME: MSG` (403), Docker's exact text.
 *
 * @example
 * throw authzDenied('rschauthz', 'privileged containers are not allowed');
 */
export function authzDenied(plugin: string, msg: string | undefined): EngineError {
  return new EngineError('forbidden', ERR_AUTHZ_DENIED, `authorization denied by plugin ${plugin}: ${msg ?? ''}`);
}

/**
 * `plugin NAME failed with error: …` (500), Docker's exact text.
 *
 * @example
 * throw authzPluginFailed('rschauthz', new Error('AuthZPlugin.AuthZReq: boom'));
 */
export function authzPluginFailed(plugin: string, err: unknown): EngineError {
  return new EngineError('internal', ERR_AUTHZ_PLUGIN_FAILED, `plugin ${plugin} failed with error: ${errorText(err)}`, { cause: err });
}

function dedupe(plugins: readonly AuthzPlugin[]): readonly AuthzPlugin[] {
  const seen = new Set<string>();
  const out: AuthzPlugin[] = [];
  for (const p of plugins) {
    if (seen.has(p.name)) continue; // Docker drops later duplicates silently
    seen.add(p.name);
    out.push(p);
  }
  return Object.freeze(out);
}

/**
 * @example
 * const chain = new AuthzChain([policyPlugin, await loadPlugins(['opa'])].flat(), { log, realpath: fs.promises.realpath });
 * const authorized = await chain.authorizeRequest({ identity, method: req.method, rawUrl: req.url, headers: req.headersDistinct, body });
 * // ... route on authorized.canonical.path, run the handler with authorized.canonical.canonicalBody ...
 * await chain.authorizeResponse(authorized, { statusCode: 201, headers, body: replyBytes });
 */
export class AuthzChain {
  #plugins: readonly AuthzPlugin[];
  readonly #log: Logger | undefined;
  readonly #audit: (rec: AuditRecord) => void;
  readonly #realpath: ((p: string) => Promise<string>) | undefined;
  readonly #maxBody: number;
  readonly #maxResponseBody: number;
  #inspector: RequestInspector | undefined;

  constructor(plugins: readonly AuthzPlugin[] = [], options: ChainOptions = {}) {
    this.#plugins = dedupe(plugins);
    this.#log = options.log?.child({ component: 'authz' });
    this.#realpath = options.realpath;
    this.#maxBody = options.maxBody ?? DEFAULT_MAX_BODY;
    this.#maxResponseBody = options.maxResponseBody ?? 4 * 1024 * 1024;
    this.#inspector = options.inspector;
    this.#audit =
      options.audit ??
      ((rec) => {
        if (rec.decision === 'allow') this.#log?.debug({ audit: rec }, 'authz decision');
        else this.#log?.warn({ audit: rec }, 'authz decision');
      });
  }

  /** Plugin names in order (for `docker info` → Plugins.Authorization). */
  get pluginNames(): string[] {
    return this.#plugins.map((p) => p.name);
  }

  /**
   * Set what resolves container references and works out a create's effects (moatd sets it
   * once its engine exists, before it listens).
   */
  setInspector(inspector: RequestInspector | undefined): void {
    this.#inspector = inspector;
  }

  /** Swap the plugin list atomically (SIGHUP reload). Requests in flight keep their list. */
  setPlugins(plugins: readonly AuthzPlugin[]): void {
    this.#plugins = dedupe(plugins);
  }

  #record(phase: AuditPhase, decision: AuditDecision, plugin: string, ctx: { identity: Identity; method: string; uri: string; path: string; requestId: string | undefined }, extra: { rule?: string | undefined; msg?: string | undefined; enforced?: boolean } = {}): void {
    try {
      this.#audit(buildAuditRecord({ phase, decision, plugin, identity: ctx.identity, method: ctx.method, uri: ctx.uri, path: ctx.path, requestId: ctx.requestId, rule: extra.rule, msg: extra.msg, enforced: extra.enforced }));
    } catch (err) {
      this.#log?.error({ err }, 'audit sink failed');
    }
  }

  /**
   * Canonicalize, resolve host paths, and ask every plugin (AuthZReq) in order. Throws
   * EngineError: 'invalid' (400) / 'too-large' (413) for a request that has no single
   * meaning, 'forbidden' (403) on a deny, 'internal' with code ERR_AUTHZ_PLUGIN_FAILED (500)
   * when a plugin fails.
   */
  async authorizeRequest(input: AuthzRequestInput): Promise<AuthorizedRequest> {
    const rawCtx = { identity: input.identity, method: input.method, uri: input.rawUrl, path: input.rawUrl, requestId: input.requestId };
    let canonical: CanonicalRequest;
    const inspector = this.#inspector;
    let effects: RequestEffects | undefined;
    try {
      refuseEffectsHeader(input.headers);
      canonical = canonicalizeRequest({ method: input.method, rawUrl: input.rawUrl, headers: input.headers, body: input.body, maxBody: this.#maxBody });
      if (this.#realpath) canonical = await resolveBindSources(canonical, this.#realpath);
      if (inspector) canonical = resolveContainerReferences(canonical, (ref) => inspector.containerId(ref));
    } catch (err) {
      this.#record('request', 'deny', '(canonical form)', rawCtx, { msg: errorText(err) });
      throw err;
    }
    const plugins = this.#plugins;
    if (inspector && canonical.bodyKind === 'container-create' && plugins.length > 0) {
      // Worked out by the code that will run the container (only when someone will judge
      // it); a failure leaves it unknown, which the policy treats as matching its deny rules.
      effects = await inspector.effects(canonical).catch((err: unknown) => ({ seccomp: { profile: 'unknown', weakerThanDefault: undefined, error: errorText(err) } }));
    }
    const wire = buildWireRequest({ identity: input.identity, canonical, headers: input.headers, peerCertificates: input.peerCertificates });
    if (effects !== undefined) wire.RequestHeaders = { ...(wire.RequestHeaders ?? {}), [EFFECTS_HEADER]: effectsHeaderValue(effects) };
    const authorized: AuthorizedRequest = { canonical, identity: input.identity, wire, plugins, requestId: input.requestId };
    const actx = { identity: input.identity, method: canonical.method, uri: canonical.uri, path: canonical.path, requestId: input.requestId };
    if (plugins.length === 0) {
      this.#record('request', 'allow', '(none)', actx);
      return authorized;
    }
    const ctx: AuthzContext = { identity: input.identity, canonical, requestId: input.requestId, effects };
    for (const plugin of plugins) {
      await this.#ask('request', plugin, () => plugin.authZReq(wire, ctx), actx, true);
    }
    return authorized;
  }

  /**
   * Ask every plugin that authorized the request (AuthZRes), in order, after the handler
   * succeeded. Call it for buffered responses before sending them; for streamed or hijacked
   * responses, call it with `streamed: true` when the stream ends (never throws then).
   */
  async authorizeResponse(call: AuthorizedRequest, res: ResponseInput): Promise<void> {
    if (call.plugins.length === 0) return;
    const enforce = res.streamed !== true;
    const c = call.canonical;
    const actx = { identity: call.identity, method: c.method, uri: c.uri, path: c.path, requestId: call.requestId };
    if (enforce && res.body && res.body.length > this.#maxResponseBody) {
      const err = new EngineError('internal', ERR_AUTHZ_PLUGIN_FAILED, `response body too large for authorization plugin: size exceeds ${this.#maxResponseBody} bytes`);
      this.#record('response', 'error', '(chain)', actx, { msg: err.message });
      throw err;
    }
    const wire = buildWireResponse(call.wire, enforce ? res : { ...res, body: undefined });
    const ctx: AuthzContext = { identity: call.identity, canonical: c, requestId: call.requestId };
    for (const plugin of call.plugins) {
      const ok = await this.#ask('response', plugin, () => plugin.authZRes(wire, ctx), actx, enforce);
      if (!ok) return;
    }
  }

  /** One plugin call; throws the client error when `enforce`, else logs and returns false. */
  async #ask(phase: AuditPhase, plugin: AuthzPlugin, call: () => Promise<AuthzReply>, actx: { identity: Identity; method: string; uri: string; path: string; requestId: string | undefined }, enforce: boolean): Promise<boolean> {
    const hook = phase === 'request' ? 'AuthZRequest' : 'AuthZResponse';
    let reply: AuthzReply;
    try {
      reply = await call();
      if (typeof reply !== 'object' || reply === null || typeof reply.Allow !== 'boolean') throw new Error('plugin reply has no boolean Allow');
    } catch (err) {
      const e = authzPluginFailed(plugin.name, err);
      this.#record(phase, 'error', plugin.name, actx, { msg: e.message, enforced: enforce });
      this.#log?.error({ plugin: plugin.name, requestId: actx.requestId }, `${hook} for ${actx.method} ${actx.uri} returned error: ${e.message}`);
      if (enforce) throw e;
      return false;
    }
    if (!reply.Allow) {
      const e = authzDenied(plugin.name, reply.Msg);
      this.#record(phase, 'deny', plugin.name, actx, { rule: reply.rule, msg: reply.Msg, enforced: enforce });
      this.#log?.error({ plugin: plugin.name, requestId: actx.requestId }, `${hook} for ${actx.method} ${actx.uri} returned error: ${e.message}`);
      if (enforce) throw e;
      return false;
    }
    this.#record(phase, 'allow', plugin.name, actx, { rule: reply.rule, msg: reply.Msg, enforced: enforce });
    return true;
  }
}
