// moatd's authorization: the chain every API request passes through, its plugins
// (--authorization-plugin, daemon.json authorization-plugins), the built-in policy
// (--authorization-policy, plugin name moat-policy), the audit log, and SIGHUP reloads.
//
// Host code: reads the policy file, writes <data-root>/audit.log.
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError, errorText, type Logger } from '../base/index.js';
import {
  AuthzChain,
  PolicyPlugin,
  POLICY_PLUGIN_NAME,
  joinRefsOf,
  volumesFromRefsOf,
  loadPlugins,
  parsePolicy,
  type AuditRecord,
  type AuthzPlugin,
  type JoinedNamespace,
  type VolumesFromEffect,
  type RequestInspector,
  type DiscoveryOptions,
} from '../authz/index.js';
import type { DaemonConfig } from './config.js';
import type { Engine, HostConfig } from '../engine/index.js';

/** The audit log: one JSON line per decision, in the data root. */
export const AUDIT_LOG_NAME = 'audit.log';

export interface DaemonAuthz {
  /** Hand this to every API server. */
  readonly chain: AuthzChain;
  /** Plugin names in chain order, for `docker info` (Plugins.Authorization). */
  pluginNames(): string[];
  /**
   * Apply the authorization settings of a re-read configuration (SIGHUP): the plugin list and
   * the policy file. On any error the running chain is kept and the error is thrown.
   */
  reload(next: DaemonConfig): Promise<void>;
  close(): void;
}

export interface AuthzSetupOptions {
  /** Plugin discovery directories (tests); default dockerd's. */
  discovery?: DiscoveryOptions;
}

async function readPolicy(path: string): Promise<PolicyPlugin> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new EngineError('invalid', 'ERR_AUTHZ_BAD_POLICY', `Cannot read authorization policy ${path}: ${errorText(err)}`, { cause: err });
  }
  try {
    return new PolicyPlugin(parsePolicy(text));
  } catch (err) {
    throw new EngineError('invalid', 'ERR_AUTHZ_BAD_POLICY', `Cannot load authorization policy ${path}: ${errorText(err)}`, { cause: err });
  }
}

/**
 * The configured chain, in order. With a policy file the built-in `moat-policy` comes first
 * unless `--authorization-plugin moat-policy` places it elsewhere.
 */
export function pluginOrder(cfg: Pick<DaemonConfig, 'authorizationPlugins' | 'authorizationPolicy'>): string[] {
  const names = [...cfg.authorizationPlugins];
  if (cfg.authorizationPolicy !== '' && !names.includes(POLICY_PLUGIN_NAME)) names.unshift(POLICY_PLUGIN_NAME);
  return names;
}

function openAudit(path: string, log: Logger): { write: (rec: AuditRecord) => void; close: () => void } {
  const fd = openSync(path, 'a', 0o600);
  return {
    write(rec) {
      // Synchronous append: a decision is on disk before its request goes on.
      writeSync(fd, JSON.stringify(rec) + '\n');
      if (rec.decision !== 'allow') log.warn({ audit: rec }, 'authz decision');
    },
    close: () => closeSync(fd),
  };
}

/**
 * Build the chain for moatd. Throws (moatd refuses to start) when a plugin cannot be found
 * or activated, or the policy file cannot be read.
 *
 * @example
 * const authz = await setupAuthz(cfg, log);
 * createApiServer({ router, log, authorizer: authz.chain });
 * process.on('SIGHUP', () => void authz.reload(reparse()).catch(...));
 */
export async function setupAuthz(cfg: DaemonConfig, log: Logger, options: AuthzSetupOptions = {}): Promise<DaemonAuthz> {
  const alog = log.child({ component: 'authz' });
  const cache = new Map<string, AuthzPlugin>();
  let cachedTimeout = cfg.authzTimeoutMs;
  const load = async (c: DaemonConfig): Promise<AuthzPlugin[]> => {
    // Activated clients are reused (dockerd activates a plugin once), unless their timeout changed.
    if (c.authzTimeoutMs !== cachedTimeout) {
      cache.clear();
      cachedTimeout = c.authzTimeoutMs;
    }
    const builtins = new Map<string, AuthzPlugin>();
    if (c.authorizationPolicy !== '') builtins.set(POLICY_PLUGIN_NAME, await readPolicy(c.authorizationPolicy));
    return loadPlugins(pluginOrder(c), {
      builtins,
      cache,
      client: { timeoutMs: c.authzTimeoutMs },
      ...(options.discovery ? { discovery: options.discovery } : {}),
    });
  };
  const plugins = await load(cfg);
  const audit = openAudit(join(cfg.dataRoot, AUDIT_LOG_NAME), alog);
  // With no plugin and no policy nothing is decided (the unix socket is root-only): no audit
  // line per request then, which would only cost a synchronous write on every call.
  const chain: AuthzChain = new AuthzChain(plugins, {
    log,
    audit: (rec) => {
      if (chain.pluginNames.length > 0) audit.write(rec);
    },
    realpath: (p) => realpath(p),
    maxBody: cfg.bodyLimit,
  });
  alog.info({ plugins: chain.pluginNames, audit: join(cfg.dataRoot, AUDIT_LOG_NAME) }, 'authorization ready');
  return {
    chain,
    pluginNames: () => chain.pluginNames,
    async reload(next) {
      const fresh = await load(next);
      chain.setPlugins(fresh);
      alog.info({ plugins: chain.pluginNames }, 'authorization plugins reloaded');
    },
    close: audit.close,
  };
}

/**
 * What the chain asks the engine before any plugin decides a container create: `container:X`
 * references as ids, the effective seccomp filter against the daemon's default (computed by
 * the code that builds the filter), what each joined namespace shares, and the binds and
 * volumes each `--volumes-from` source brings.
 *
 * @example
 * authz.chain.setInspector(engineInspector(engine));
 */
export function engineInspector(engine: Engine): RequestInspector {
  return {
    containerId: (ref) => engine.findOne(ref)?.Id,
    effects: async (req) => {
      const body = req.body as { HostConfig?: unknown } | undefined;
      const hc = (typeof body?.HostConfig === 'object' && body.HostConfig !== null ? body.HostConfig : {}) as HostConfig;
      const joins: JoinedNamespace[] = joinRefsOf(body).map((j) => {
        const ns = engine.namespaceOf(j.ref, j.namespace);
        return ns
          ? { namespace: j.namespace, container: ns.id, privileged: ns.privileged, host: ns.host }
          : { namespace: j.namespace, container: j.ref, privileged: undefined, host: undefined };
      });
      // The references are full ids by now (resolveContainerReferences), each one found.
      const volumesFrom: VolumesFromEffect[] = volumesFromRefsOf(body).flatMap((ref) => {
        const m = engine.mountsOf(ref);
        return m ? [{ container: m.id, bindSources: m.bindSources, volumes: m.volumes }] : [];
      });
      return { seccomp: engine.assessSeccomp(hc), joins, volumesFrom };
    },
  };
}
