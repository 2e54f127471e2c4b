// /networks/* routes (moby `api/server/router/network`): bridge networks through the
// netavark driver (src/network), Docker's shapes and messages, and `network` events.
import { EngineError, invalid, shortId } from '../../base/index.js';
import type { ContainerRecord, Engine, EndpointConfig, EventBus, NetworkingConfig } from '../../engine/index.js';
import {
  builtinNetworkView,
  checkNetworkCreate,
  defaultBridgeOptions,
  filterNetworks,
  isBuiltin,
  networkView,
  type BuiltinNetwork,
  type NetworkDriver,
  type NetworkRecord,
} from '../../network/index.js';
import { parseFilterTime } from '../../image/index.js';
import { filtersParam } from '../params.js';
import type { Router } from '../router.js';
import { sendEmpty, sendJson } from '../reply.js';

export interface NetworkRouteDeps {
  driver: NetworkDriver;
  events: EventBus;
  /** The daemon's `--ip` (shown in the default bridge's options). */
  defaultHostIp: string;
  /** The daemon's `--dns`: nameservers of containers that name none. */
  defaultDns: readonly string[];
}

/** runconfig.ErrConflictSharedNetwork's words. */
const SHARED_NETWORK = 'container sharing network namespace with another container or host cannot be connected to any other network';

/** Docker's refusals (runconfig's validation errors, 400) for connecting to `host` or `none` (checked against dockerd 20.10). */
function refuseBuiltinConnect(n: BuiltinNetwork, c: ContainerRecord): never {
  const mode = c.HostConfig.NetworkMode ?? '';
  if (n.name === 'host' && mode !== 'host') throw new EngineError('invalid', 'ERR_NETWORK_BUILTIN', 'container cannot be disconnected from host network or connected to host network');
  if ((mode === 'host' || mode.startsWith('container:')) && n.name !== mode) throw new EngineError('invalid', 'ERR_NETWORK_BUILTIN', SHARED_NETWORK);
  if (n.name === 'none' && mode !== 'none') throw new EngineError('invalid', 'ERR_NETWORK_BUILTIN', 'container cannot be connected to multiple networks with one of the networks in private (none) mode');
  throw new EngineError('conflict', 'ERR_NETWORK_ENDPOINT_EXISTS', `endpoint with name ${c.Name.slice(1)} already exists in network ${n.name}`);
}

/** Running containers in `--network host|none`: the `Containers` of those pseudo-networks, as Docker's. */
function builtinMembers(engine: Engine, n: BuiltinNetwork): Array<{ id: string; name: string }> {
  return engine
    .list()
    .filter((c) => (c.State.Status === 'running' || c.State.Status === 'paused') && (c.HostConfig.NetworkMode ?? '') === n.name)
    .map((c) => ({ id: c.Id, name: c.Name.slice(1) }));
}

/** A network as list and inspect show it: the default bridge with Docker's options. */
function view(d: NetworkRouteDeps, n: NetworkRecord, withContainers: boolean): Record<string, unknown> {
  const v = networkView(n, withContainers ? d.driver.attachedTo(n.id) : []);
  if (n.predefined) v.Options = defaultBridgeOptions(n, d.defaultHostIp);
  return v as unknown as Record<string, unknown>;
}

function objectBody(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid(`${what}: the body must be a JSON object`);
  return body as Record<string, unknown>;
}

/** `EndpointConfig` of connect: the settings moat applies (address, aliases, MAC). */
function readEndpointConfig(v: unknown): EndpointConfig {
  if (v === undefined || v === null) return {};
  const o = objectBody(v, 'EndpointConfig');
  const out: EndpointConfig = {};
  const aliases = o['Aliases'];
  if (aliases !== undefined && aliases !== null) {
    if (!Array.isArray(aliases) || !aliases.every((a) => typeof a === 'string')) throw invalid('EndpointConfig.Aliases: expected a list of strings');
    out.Aliases = aliases as string[];
  }
  const ipam = o['IPAMConfig'];
  if (ipam !== undefined && ipam !== null) {
    const ip = objectBody(ipam, 'EndpointConfig.IPAMConfig')['IPv4Address'];
    if (ip !== undefined && typeof ip !== 'string') throw invalid('EndpointConfig.IPAMConfig.IPv4Address: expected a string');
    if (typeof ip === 'string' && ip !== '') out.IPAMConfig = { IPv4Address: ip };
  }
  const mac = o['MacAddress'];
  if (mac !== undefined && typeof mac !== 'string') throw invalid('EndpointConfig.MacAddress: expected a string');
  if (typeof mac === 'string' && mac !== '') out.MacAddress = mac;
  return out;
}

function containerRef(body: Record<string, unknown>): string {
  const ref = body['Container'];
  if (typeof ref !== 'string' || ref === '') throw invalid('Container: a container name or id is required');
  return ref;
}

/**
 * A `none` container that a disconnect left without any network (its record keeps endpoint
 * settings without `none`); the CLI's own create sends `{ none: {} }`.
 */
export function leftNone(c: ContainerRecord): boolean {
  return (c.HostConfig.NetworkMode ?? '') === 'none' && c.NetworkingConfig !== undefined && !('none' in (c.NetworkingConfig.EndpointsConfig ?? {}));
}

/** The networks a record names (NetworkMode first), for connect / disconnect on a stopped container. */
function recordNetworks(c: ContainerRecord): { mode: string; eps: Record<string, EndpointConfig> } {
  const mode = c.HostConfig.NetworkMode ?? '';
  const primary = mode === '' || mode === 'default' ? 'bridge' : mode;
  const eps = { ...(c.NetworkingConfig?.EndpointsConfig ?? {}) };
  // The CLI keys the default network's settings `default` (its NetworkMode): that is `bridge`.
  if (primary === 'bridge' && eps['default'] !== undefined) {
    eps['bridge'] ??= eps['default'];
    delete eps['default'];
  }
  return { mode: primary, eps };
}

export function registerNetworkRoutes(r: Router, engine: Engine, d: NetworkRouteDeps): void {
  const { driver, events } = d;
  const attrs = (n: NetworkRecord, extra: Record<string, string> = {}): Record<string, string> => ({ name: n.name, type: n.driver, ...extra });

  r.add('GET', '/networks', async (ctx) => {
    const filters = Object.fromEntries(filtersParam(ctx.query));
    const all = [...driver.builtinNetworks(), ...driver.listNetworks()];
    const list = filterNetworks(all, { filters, inUse: (id) => driver.attachedTo(id).length > 0 });
    sendJson(ctx.res!, 200, list.map((n) => (isBuiltin(n) ? builtinNetworkView(n) : view(d, n, false))));
  });

  r.add('GET', '/networks/{id}', async (ctx) => {
    const n = driver.findAnyNetwork(ctx.params['id']!);
    sendJson(ctx.res!, 200, isBuiltin(n) ? builtinNetworkView(n, builtinMembers(engine, n)) : view(d, n, true));
  });

  r.add('POST', '/networks/create', async (ctx) => {
    const req = checkNetworkCreate(ctx.json());
    const n = await driver.createNetwork(req);
    events.emit('network', 'create', n.id, attrs(n));
    sendJson(ctx.res!, 201, { Id: n.id, Warning: '' });
  });

  r.add('DELETE', '/networks/{id}', async (ctx) => {
    const b = driver.findAnyNetwork(ctx.params['id']!);
    if (isBuiltin(b)) throw new EngineError('forbidden', 'ERR_NETWORK_PREDEFINED', `${b.name} is a pre-defined network and cannot be removed`);
    const n = await driver.removeNetwork(b.id);
    events.emit('network', 'destroy', n.id, attrs(n));
    sendEmpty(ctx.res!, 204);
  });

  r.add('POST', '/networks/prune', async (ctx) => {
    const filters = filtersParam(ctx.query);
    for (const k of filters.keys()) if (k !== 'label' && k !== 'label!' && k !== 'until') throw invalid(`invalid filter '${k}'`);
    const until = (filters.get('until') ?? []).map((u) => parseFilterTime(u));
    const labelOk = (n: NetworkRecord): boolean =>
      (filters.get('label') ?? []).every((f) => (f.includes('=') ? n.labels[f.slice(0, f.indexOf('='))] === f.slice(f.indexOf('=') + 1) : f in n.labels)) &&
      (filters.get('label!') ?? []).every((f) => !(f.includes('=') ? n.labels[f.slice(0, f.indexOf('='))] === f.slice(f.indexOf('=') + 1) : f in n.labels));
    const deleted: string[] = [];
    for (const n of driver.listNetworks()) {
      if (n.predefined || driver.attachedTo(n.id).length > 0 || !labelOk(n) || inRecords(engine, n)) continue;
      if (until.some((u) => !(Date.parse(n.created) < u))) continue;
      await driver.removeNetwork(n.id);
      events.emit('network', 'destroy', n.id, attrs(n));
      deleted.push(n.name);
    }
    sendJson(ctx.res!, 200, { NetworksDeleted: deleted });
  });

  r.add('POST', '/networks/{id}/connect', async (ctx) => {
    const body = objectBody(ctx.json() ?? {}, 'network connect');
    const any = driver.findAnyNetwork(ctx.params['id']!);
    const ep = readEndpointConfig(body['EndpointConfig']);
    const c = engine.get(containerRef(body));
    if (isBuiltin(any)) refuseBuiltinConnect(any, c);
    const n = any;
    const mode = c.HostConfig.NetworkMode ?? '';
    // `none` that a disconnect left (the record keeps endpoint settings) takes a network again, as Docker's.
    const emptied = leftNone(c);
    if ((mode === 'none' && !emptied) || mode === 'host' || mode.startsWith('container:')) {
      throw new EngineError('forbidden', 'ERR_NETWORK_MODE', mode === 'none' ? `container ${shortId(c.Id)} runs with --network none: disconnect it from none first` : SHARED_NETWORK);
    }
    await engine.changeNetworks(c.Id, async (cur, running) => {
      const { mode: primary, eps } = recordNetworks(cur);
      const names = new Set([...(emptied ? [] : [primary]), ...Object.keys(eps)].map((x) => safeNetwork(driver, x)?.id));
      if (names.has(n.id)) throw new EngineError('conflict', 'ERR_NETWORK_ENDPOINT_EXISTS', `endpoint with name ${cur.Name.slice(1)} already exists in network ${n.name}`);
      if (running) {
        // moat wires a running container's namespace only if its start did (a `none` or, under
        // --bridge none, a default-mode container has no endpoint to add to).
        if (driver.endpoint(cur.Id) === undefined) {
          throw new EngineError('conflict', 'ERR_NETWORK_NO_ENDPOINT', `container ${shortId(cur.Id)} was started with loopback only: stop it, connect it to ${n.name}, and start it again`);
        }
        await driver.connect(cur.Id, {
          network: n.id,
          ...(ep.Aliases ? { aliases: ep.Aliases } : {}),
          ...(ep.IPAMConfig?.IPv4Address ? { ipv4Address: ep.IPAMConfig.IPv4Address } : {}),
          ...(ep.MacAddress ? { macAddress: ep.MacAddress } : {}),
        });
      } else {
        driver.validate({ containerName: cur.Name.slice(1), networks: [{ network: n.id, ...(ep.Aliases ? { aliases: ep.Aliases } : {}), ...(ep.IPAMConfig?.IPv4Address ? { ipv4Address: ep.IPAMConfig.IPv4Address } : {}) }], ports: [], dns: [] });
      }
      eps[n.name] = ep;
      return { networkMode: emptied ? n.name : (cur.HostConfig.NetworkMode ?? ''), networkingConfig: { EndpointsConfig: eps } };
    });
    events.emit('network', 'connect', n.id, attrs(n, { container: c.Id }));
    sendEmpty(ctx.res!, 200);
  });

  r.add('POST', '/networks/{id}/disconnect', async (ctx) => {
    const body = objectBody(ctx.json() ?? {}, 'network disconnect');
    const any = driver.findAnyNetwork(ctx.params['id']!);
    const c = engine.get(containerRef(body));
    if (isBuiltin(any)) {
      if (any.name === 'host' && c.HostConfig.NetworkMode === 'host') throw new EngineError('invalid', 'ERR_NETWORK_BUILTIN', 'container cannot be disconnected from host network or connected to host network');
      if (any.name === 'none' && c.HostConfig.NetworkMode === 'none' && !leftNone(c)) {
        // Docker lets a `none` container leave `none` (loopback stays) so it can join a network next.
        await engine.changeNetworks(c.Id, async () => ({ networkMode: 'none', networkingConfig: { EndpointsConfig: {} } }));
        events.emit('network', 'disconnect', any.id, { name: any.name, type: any.driver, container: c.Id });
        sendEmpty(ctx.res!, 200);
        return;
      }
      throw new EngineError('forbidden', 'ERR_NETWORK_NOT_CONNECTED', `container ${c.Id} is not connected to network ${any.name}`);
    }
    const n = any;
    await engine.changeNetworks(c.Id, async (cur, running) => {
      const { mode: primary, eps } = recordNetworks(cur);
      const named = [primary, ...Object.keys(eps).filter((x) => x !== primary)];
      const match = named.filter((x) => safeNetwork(driver, x)?.id === n.id);
      if (match.length === 0) throw new EngineError('forbidden', 'ERR_NETWORK_NOT_CONNECTED', `container ${shortId(cur.Id)} is not connected to network ${n.name}`);
      if (running) await driver.disconnect(cur.Id, n.id);
      for (const x of match) delete eps[x];
      const rest = named.filter((x) => !match.includes(x));
      // The first network left takes NetworkMode's place; with none left the container has loopback only.
      const networkMode = match.includes(primary) ? (rest[0] ?? 'none') : (cur.HostConfig.NetworkMode ?? '');
      const networkingConfig: NetworkingConfig = { EndpointsConfig: eps };
      return { networkMode, networkingConfig };
    });
    events.emit('network', 'disconnect', n.id, attrs(n, { container: c.Id }));
    sendEmpty(ctx.res!, 200);
  });
}

function safeNetwork(driver: NetworkDriver, ref: string): NetworkRecord | undefined {
  try {
    return driver.getNetwork(ref);
  } catch {
    return undefined;
  }
}

/** A stopped container that names the network keeps it from being pruned (Docker: only unused networks go). */
function inRecords(engine: Engine, n: NetworkRecord): boolean {
  return engine.list().some((c) => {
    const { mode, eps } = recordNetworks(c);
    return [mode, ...Object.keys(eps)].some((x) => x === n.name || x === n.id);
  });
}
