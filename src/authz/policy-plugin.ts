/**
 * The built-in policy as an authorization plugin: in-process for moatd (PolicyPlugin), and
 * the decision function behind the standalone plugin server and `moat authz check`.
 *
 * Behind a stock dockerd the policy only has the wire request, which carries dockerd's raw
 * URI and body. It canonicalizes them itself, and it denies what dockerd would otherwise let
 * through unseen: a body dockerd did not forward (over its size limit, or not JSON) on a route
 * whose body matters, and any body without one meaning (duplicate or case-variant keys).
 *
 * Pure: no I/O.
 */
import { EngineError, errorText } from '../base/index.js';
import { canonicalizeRequest, canonicalizeTarget, headerValue, bodyKindFor, getMember, parseJsonTree, serializeTree, type CanonicalRequest, type JsonNode } from '../docker/index.js';
import type { AuthzContext, AuthzPlugin, AuthzReply } from './chain.js';
import { evaluatePolicy, type Policy, type PolicyDecision } from './policy.js';
import type { AuthZWireRequest } from './wire.js';

/**
 * The built-in policy's plugin name (in messages: `authorization denied by plugin moat-policy: …`).
 *
 * @example
 * await loadPlugins(names, { builtins: new Map([[POLICY_PLUGIN_NAME, new PolicyPlugin(policy)]]) });
 */
export const POLICY_PLUGIN_NAME = 'moat-policy';

/** dockerd master reads up to 4 MiB ahead; a standalone plugin accepts what dockerd may send. */
const WIRE_MAX_BODY = 16 * 1024 * 1024;

/**
 * The built-in policy in the chain. It judges the chain's canonical request and the caller's
 * identity, including groups. The response phase always allows.
 *
 * @example
 * const chain = new AuthzChain([new PolicyPlugin(parsePolicy(text))]);
 */
export class PolicyPlugin implements AuthzPlugin {
  readonly name: string;
  #policy: Policy;

  constructor(policy: Policy, options: { name?: string } = {}) {
    this.#policy = policy;
    this.name = options.name ?? POLICY_PLUGIN_NAME;
  }

  /** Replace the policy (reload). */
  setPolicy(policy: Policy): void {
    this.#policy = policy;
  }

  async authZReq(_req: AuthZWireRequest, ctx: AuthzContext): Promise<AuthzReply> {
    const d = evaluatePolicy(this.#policy, {
      user: ctx.identity.user,
      groups: ctx.identity.groups,
      method: ctx.canonical.method,
      path: ctx.canonical.path,
      body: ctx.canonical.body,
      query: ctx.canonical.queryParams,
      effects: ctx.effects,
    });
    return { Allow: d.allow, Msg: d.msg, rule: d.rule };
  }

  async authZRes(): Promise<AuthzReply> {
    return { Allow: true };
  }
}

/** The rule name reported when a request is refused before the policy is consulted. */
export const INVALID_REQUEST_RULE = 'invalid-request';

function strictBase64(s: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return undefined;
  return Buffer.from(s, 'base64');
}

/**
 * Decide a wire AuthZReq (as a stock dockerd sends it) with the policy.
 *
 * @example
 * decideWireRequest(policy, { RequestMethod: 'POST', RequestUri: '/v1.41/containers/create', RequestBody: b64 })
 */
export function decideWireRequest(policy: Policy, wire: AuthZWireRequest, groups?: readonly string[]): PolicyDecision {
  const method = wire.RequestMethod ?? '';
  const headers = wire.RequestHeaders ?? {};
  let body: Buffer | undefined;
  if (wire.RequestBody !== undefined && wire.RequestBody !== '') {
    body = strictBase64(wire.RequestBody);
    if (body === undefined) return { allow: false, rule: INVALID_REQUEST_RULE, msg: 'RequestBody is not valid base64' };
  }
  let canonical: CanonicalRequest;
  try {
    const target = canonicalizeTarget(wire.RequestUri ?? '');
    if (body === undefined && bodyKindFor(method, target.path) !== undefined) {
      // dockerd forwards no body over its limit (1 MiB in 20.10) or of a non-JSON type: the
      // request may still carry one, and the policy cannot judge what it cannot see.
      const cl = headerValue(headers, 'content-length');
      const te = headerValue(headers, 'transfer-encoding');
      if ((cl !== undefined && cl.trim() !== '0') || te !== undefined) {
        return { allow: false, rule: INVALID_REQUEST_RULE, msg: 'request body not visible to the authorization plugin (too large or not application/json)' };
      }
    }
    canonical = canonicalizeRequest({ method, rawUrl: wire.RequestUri ?? '', headers, body, maxBody: WIRE_MAX_BODY });
  } catch (err) {
    return { allow: false, rule: INVALID_REQUEST_RULE, msg: `request refused: ${errorText(err)}` };
  }
  return evaluatePolicy(policy, { user: wire.User, groups, method: canonical.method, path: canonical.path, body: canonical.body, query: canonical.queryParams });
}

function str(node: JsonNode | undefined): string | undefined {
  return node?.t === 'str' ? node.v : undefined;
}

/**
 * Decide a request file for `moat authz check`: either an AuthZReq wire body
 * (`{RequestMethod, RequestUri, RequestBody: base64, User}`) or the friendlier
 * `{Method, URI, Body: {...}, User, Groups, Headers}`. Given as text, the friendly Body keeps
 * its exact keys (duplicates included), so the check shows what the daemon would refuse.
 *
 * @example
 * checkRequestFile(policy, '{"Method":"POST","URI":"/containers/create","Body":{"HostConfig":{"Privileged":true}}}')
 * // { allow: false, rule: 'no-privileged', msg: '...' }
 */
export function checkRequestFile(policy: Policy, requestJson: string | object): PolicyDecision {
  let root: JsonNode;
  try {
    root = parseJsonTree(typeof requestJson === 'string' ? requestJson.replace(/^\ufeff/, '') : JSON.stringify(requestJson));
  } catch (err) {
    throw new EngineError('invalid', 'ERR_AUTHZ_BAD_REQUEST_FILE', `Cannot read request file: ${errorText(err)}`, { cause: err });
  }
  if (root.t !== 'obj') throw new EngineError('invalid', 'ERR_AUTHZ_BAD_REQUEST_FILE', 'Cannot read request file: expected a JSON object');
  const has = (k: string): boolean => root.t === 'obj' && root.entries.some(([key]) => key === k);
  const groupsNode = getMember(root, 'Groups');
  const groups = groupsNode?.t === 'arr' ? groupsNode.items.map(str).filter((g): g is string => g !== undefined) : undefined;
  const headersNode = getMember(root, 'Headers') ?? getMember(root, 'RequestHeaders');
  const headers: Record<string, string> = {};
  if (headersNode?.t === 'obj') for (const [k, v] of headersNode.entries) if (v.t === 'str') headers[k] = v.v;

  if (has('RequestMethod') || has('RequestUri')) {
    const wire: AuthZWireRequest = { RequestMethod: str(getMember(root, 'RequestMethod')) ?? '', RequestUri: str(getMember(root, 'RequestUri')) ?? '', RequestHeaders: headers };
    const user = str(getMember(root, 'User'));
    const b = str(getMember(root, 'RequestBody'));
    if (user !== undefined) wire.User = user;
    if (b !== undefined) wire.RequestBody = b;
    return decideWireRequest(policy, wire, groups);
  }
  const method = str(getMember(root, 'Method'));
  const uri = str(getMember(root, 'URI')) ?? str(getMember(root, 'Uri')) ?? str(getMember(root, 'Path'));
  if (method === undefined || uri === undefined) {
    throw new EngineError('invalid', 'ERR_AUTHZ_BAD_REQUEST_FILE', 'Cannot read request file: expected {RequestMethod, RequestUri, RequestBody} or {Method, URI, Body}');
  }
  const bodyNode = getMember(root, 'Body');
  let body: Buffer | undefined;
  if (bodyNode !== undefined && bodyNode.t !== 'null') {
    body = Buffer.from(bodyNode.t === 'str' ? bodyNode.v : serializeTree(bodyNode), 'utf8');
  }
  const user = str(getMember(root, 'User'));
  let canonical: CanonicalRequest;
  try {
    canonical = canonicalizeRequest({ method: method.toUpperCase(), rawUrl: uri, headers, body, maxBody: WIRE_MAX_BODY });
  } catch (err) {
    return { allow: false, rule: INVALID_REQUEST_RULE, msg: `request refused: ${errorText(err)}` };
  }
  return evaluatePolicy(policy, { user, groups, method: canonical.method, path: canonical.path, body: canonical.body, query: canonical.queryParams });
}
