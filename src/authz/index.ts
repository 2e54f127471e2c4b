/**
 * Authorization: Docker AuthZ plugins (discovery, client, chain that fails closed), the
 * canonical request form every plugin and handler sees, the built-in policy (in-process or
 * as a standalone plugin for dockerd), unix-socket peer identity, and audit records.
 *
 * Lifecycle in the API server (see docs/authz.md):
 *   identity → canonicalizeTarget → read body (readBodyLimited unless isStreamBodyRoute)
 *   → chain.authorizeRequest → route on canonical.path, handler gets canonical.canonicalBody
 *   → chain.authorizeResponse → reply
 *
 * @example
 * import { AuthzChain, PolicyPlugin, parsePolicy, loadPlugins } from '../authz/index.js';
 * const chain = new AuthzChain(await loadPlugins(names, { builtins }), { log, realpath: fs.promises.realpath });
 */

// The canonical request itself lives in src/docker (canonicalizeRequest, CanonicalRequest).
export { readBodyLimited } from './read-body.js';

// What a request will do beyond its body (moatd injects how to work it out)
export {
  EFFECTS_HEADER,
  effectsHeaderValue,
  joinRefsOf,
  volumesFromRefsOf,
  resolveContainerReferences,
  type RequestEffects,
  type VolumesFromEffect,
  type RequestInspector,
  type SeccompAssessment,
  type JoinedNamespace,
  type JoinableNamespace,
} from './effects.js';

// The chain and plugins
export {
  AuthzChain,
  authzDenied,
  authzPluginFailed,
  ERR_AUTHZ_DENIED,
  ERR_AUTHZ_PLUGIN_FAILED,
  type AuthzPlugin,
  type AuthzContext,
  type AuthzReply,
  type AuthzRequestInput,
  type AuthorizedRequest,
  type ResponseInput,
  type ChainOptions,
} from './chain.js';
export { PluginClient, loadPlugins, PLUGIN_ACCEPT, type PluginClientOptions, type LoadPluginsOptions } from './plugin-client.js';
export { discoverPlugin, DEFAULT_SOCKET_DIRS, DEFAULT_SPEC_DIRS, type PluginEndpoint, type PluginAddress, type DiscoveryOptions, type TlsSettings } from './discovery.js';
export { buildWireRequest, buildWireResponse, type AuthZWireRequest, type AuthZWireResponse, type Identity, type ResponseInfo } from './wire.js';

// The built-in policy
export { parsePolicy, compilePolicy, evaluatePolicy, extractFacts, ANONYMOUS, type Policy, type PolicyDecision, type PolicyRequest, type RequestFacts } from './policy.js';
export { PolicyPlugin, POLICY_PLUGIN_NAME, decideWireRequest, checkRequestFile } from './policy-plugin.js';
export { runAuthzServe, runAuthzCheck, type PolicyServer } from './plugin-server.js';

// Identity and audit
export { getPeerCred, socketFd, userNameForUid, groupsForUser, identifyUnixPeer, type PeerCred } from './peercred.js';
export { buildAuditRecord, type AuditRecord, type AuditDecision, type AuditPhase } from './audit.js';
