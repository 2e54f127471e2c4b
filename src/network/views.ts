// Docker's wire shapes for networks: the `POST /networks/create` body checked into a
// request moat can act on, `GET /networks` and `GET /networks/{id}` bodies, list filters,
// and a container's `NetworkSettings`. Pure.
import { createHash } from 'node:crypto';
import { EngineError, invalid } from '../base/index.js';
import { isValidInterfaceName } from './netavark-config.js';
import type { IpamConfigRequest } from './ipam.js';
import { portsView, type PortMapping } from './ports.js';
import type { AttachmentRecord, BuiltinNetwork, EndpointRecord, NetworkRecord } from './types.js';

/** Names Docker reserves: `docker network create bridge` is refused. */
export const PREDEFINED_NETWORKS: readonly string[] = ['bridge', 'host', 'none', 'default'];

const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export const OPT_BRIDGE_NAME = 'com.docker.network.bridge.name';
export const OPT_ICC = 'com.docker.network.bridge.enable_icc';
export const OPT_MASQUERADE = 'com.docker.network.bridge.enable_ip_masquerade';
export const OPT_HOST_BINDING = 'com.docker.network.bridge.host_binding_ipv4';
export const OPT_MTU = 'com.docker.network.driver.mtu';
export const OPT_DEFAULT_BRIDGE = 'com.docker.network.bridge.default_bridge';

/** A checked `POST /networks/create`. */
export interface NetworkCreate {
  name: string;
  internal: boolean;
  attachable: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** At most one IPv4 entry (moat's networks are IPv4 only). */
  ipam: IpamConfigRequest | undefined;
  /** From `com.docker.network.bridge.name`, if given. */
  bridgeName: string | undefined;
  icc: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) throw invalid(`${field}: expected an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw invalid(`${field}[${JSON.stringify(k)}]: expected a string`);
    out[k] = val;
  }
  return out;
}

function bool(v: unknown, field: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw invalid(`${field}: expected true or false`);
  return v;
}

function boolOption(options: Record<string, string>, key: string, dflt: boolean): boolean {
  const v = options[key];
  if (v === undefined || v === '') return dflt;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw invalid(`Options[${JSON.stringify(key)}]: expected true or false, not ${JSON.stringify(v)}`);
}

/**
 * Check a `POST /networks/create` body. Drivers other than bridge, IPv6, swarm fields and
 * options netavark cannot honour are refused with a message naming them.
 */
export function checkNetworkCreate(body: unknown): NetworkCreate {
  if (!isRecord(body)) throw invalid('invalid network create request: expected a JSON object');
  const name = body['Name'];
  if (typeof name !== 'string' || name === '') throw invalid('Name: a network needs a name');
  if (!NETWORK_NAME_RE.test(name) || name.length > 128) throw invalid(`Name: invalid network name ${JSON.stringify(name)}: use letters, digits, '_', '.' and '-'`);
  if (PREDEFINED_NETWORKS.includes(name)) throw new EngineError('forbidden', 'ERR_NETWORK_PREDEFINED', `${name} is a pre-defined network and cannot be created`);
  const driver = body['Driver'] ?? 'bridge';
  if (driver !== 'bridge' && driver !== '') {
    throw new EngineError('not-found', 'ERR_NETWORK_DRIVER', `could not find plugin ${String(driver)} in v1 plugin registry: plugin not found`);
  }
  if (bool(body['EnableIPv6'], 'EnableIPv6')) throw new EngineError('not-implemented', 'ERR_NETWORK_IPV6', 'IPv6 networks are not supported by moat yet');
  if (bool(body['Ingress'], 'Ingress')) throw new EngineError('not-implemented', 'ERR_NETWORK_SWARM', 'Ingress networks need swarm mode, which moat does not have');
  if (bool(body['ConfigOnly'], 'ConfigOnly') || (isRecord(body['ConfigFrom']) && (body['ConfigFrom']['Network'] ?? '') !== '')) {
    throw new EngineError('not-implemented', 'ERR_NETWORK_SWARM', 'config-only networks are not supported by moat');
  }
  if (body['Scope'] !== undefined && body['Scope'] !== '' && body['Scope'] !== 'local') throw invalid(`Scope: only "local" networks exist in moat, not ${JSON.stringify(body['Scope'])}`);
  const options = stringMap(body['Options'], 'Options');
  const labels = stringMap(body['Labels'], 'Labels');
  let ipam: IpamConfigRequest | undefined;
  const ipamBody = body['IPAM'];
  if (ipamBody !== undefined && ipamBody !== null) {
    if (!isRecord(ipamBody)) throw invalid('IPAM: expected an object');
    const ipamDriver = ipamBody['Driver'];
    if (ipamDriver !== undefined && ipamDriver !== '' && ipamDriver !== 'default') {
      throw new EngineError('not-found', 'ERR_NETWORK_DRIVER', `could not find plugin ${String(ipamDriver)} in v1 plugin registry: plugin not found`);
    }
    const config = ipamBody['Config'] ?? [];
    if (!Array.isArray(config)) throw invalid('IPAM.Config: expected a list');
    const v4 = config.filter((c) => !(isRecord(c) && typeof c['Subnet'] === 'string' && c['Subnet'].includes(':')));
    if (v4.length !== config.length) throw new EngineError('not-implemented', 'ERR_NETWORK_IPV6', 'IPv6 networks are not supported by moat yet');
    if (v4.length > 1) throw new EngineError('not-implemented', 'ERR_NETWORK_SUBNETS', 'IPAM.Config: moat supports one IPv4 subnet per network');
    const c = v4[0];
    if (c !== undefined) {
      if (!isRecord(c)) throw invalid('IPAM.Config[0]: expected an object');
      const field = (k: string): string | undefined => {
        const v = c[k];
        if (v === undefined || v === null || v === '') return undefined;
        if (typeof v !== 'string') throw invalid(`IPAM.Config[0].${k}: expected a string`);
        return v;
      };
      const subnet = field('Subnet');
      const ipRange = field('IPRange');
      const gateway = field('Gateway');
      const aux = stringMap(c['AuxiliaryAddresses'] ?? c['AuxAddress'], 'IPAM.Config[0].AuxiliaryAddresses');
      ipam = {
        ...(subnet !== undefined ? { Subnet: subnet } : {}),
        ...(ipRange !== undefined ? { IPRange: ipRange } : {}),
        ...(gateway !== undefined ? { Gateway: gateway } : {}),
        ...(Object.keys(aux).length > 0 ? { AuxiliaryAddresses: aux } : {}),
      };
    }
  }
  const bridgeName = options[OPT_BRIDGE_NAME];
  if (bridgeName !== undefined && !isValidInterfaceName(bridgeName)) {
    throw invalid(`Options[${JSON.stringify(OPT_BRIDGE_NAME)}]: invalid interface name ${JSON.stringify(bridgeName)}: at most 15 letters, digits, '_', '.' or '-'`);
  }
  if (!boolOption(options, OPT_MASQUERADE, true)) {
    throw new EngineError('not-implemented', 'ERR_NETWORK_OPTION', `Options[${JSON.stringify(OPT_MASQUERADE)}]: netavark always masquerades; use --internal for a network without a route out`);
  }
  const mtu = options[OPT_MTU];
  if (mtu !== undefined && mtu !== '' && !/^\d{3,5}$/.test(mtu)) throw invalid(`Options[${JSON.stringify(OPT_MTU)}]: invalid MTU ${JSON.stringify(mtu)}`);
  return {
    name,
    internal: bool(body['Internal'], 'Internal'),
    attachable: bool(body['Attachable'], 'Attachable'),
    labels,
    options,
    ipam,
    bridgeName: bridgeName === '' ? undefined : bridgeName,
    icc: boolOption(options, OPT_ICC, true),
  };
}

/** A moat network in Docker's shape (`docker network inspect`). */
export interface DockerNetwork {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: 'bridge';
  EnableIPv4: true;
  EnableIPv6: false;
  IPAM: { Driver: 'default'; Options: null; Config: Array<{ Subnet: string; Gateway: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> }> };
  Internal: boolean;
  Attachable: boolean;
  Ingress: false;
  ConfigFrom: { Network: '' };
  ConfigOnly: false;
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: '' }>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** The options Docker shows for its default bridge, with moat's values. */
export function defaultBridgeOptions(n: NetworkRecord, hostIp: string): Record<string, string> {
  return {
    [OPT_DEFAULT_BRIDGE]: 'true',
    [OPT_ICC]: String(n.icc),
    [OPT_MASQUERADE]: 'true',
    [OPT_HOST_BINDING]: hostIp,
    [OPT_BRIDGE_NAME]: n.bridge,
    [OPT_MTU]: n.options[OPT_MTU] ?? '1500',
  };
}

export interface AttachedContainer {
  containerId: string;
  containerName: string;
  attachment: AttachmentRecord;
}

/** `GET /networks/{id}`: the network and, when `containers` is given, its endpoints. */
export function networkView(n: NetworkRecord, containers: readonly AttachedContainer[] = []): DockerNetwork {
  const view: DockerNetwork = {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: 'bridge',
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: {
      Driver: 'default',
      Options: null,
      Config: n.subnets.map((s) => ({
        Subnet: s.subnet,
        Gateway: s.gateway,
        ...(s.ipRange !== undefined ? { IPRange: s.ipRange } : {}),
        ...(s.auxAddresses !== undefined ? { AuxiliaryAddresses: s.auxAddresses } : {}),
      })),
    },
    Internal: n.internal,
    Attachable: n.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {},
    Options: { ...n.options },
    Labels: { ...n.labels },
  };
  for (const c of containers) {
    view.Containers[c.containerId] = {
      Name: c.containerName,
      EndpointID: c.attachment.endpointId,
      MacAddress: c.attachment.mac,
      IPv4Address: `${c.attachment.ip}/${c.attachment.prefixLen}`,
      IPv6Address: '',
    };
  }
  return view;
}

/** `host` or `none` (not a bridge network moat sets up). */
export function isBuiltin(n: NetworkRecord | BuiltinNetwork): n is BuiltinNetwork {
  return n.driver !== 'bridge';
}

/** `docker network inspect host|none`: Docker's shape, and the running containers in that mode. */
export function builtinNetworkView(n: BuiltinNetwork, containers: ReadonlyArray<{ id: string; name: string }> = []): Record<string, unknown> {
  const entries = containers.map((c) => [c.id, {
    Name: c.name,
    // Docker makes one per sandbox; derived here so repeated inspects agree.
    EndpointID: createHash('sha256').update(`${n.id}:${c.id}`).digest('hex'),
    MacAddress: '',
    IPv4Address: '',
    IPv6Address: '',
  }]);
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: n.driver,
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: Object.fromEntries(entries),
    Options: {},
    Labels: {},
  };
}

/**
 * Docker's network list filters: `name` and `id` match part of the value, `label` is
 * `key` or `key=value`, `driver`, `type` (`custom` or `builtin`: `bridge`, `host`, `none`),
 * `scope`, `dangling` (no container attached, never a built-in one). Values of one key are
 * OR-ed, keys AND-ed. Unknown keys are a 400, as dockerd's "invalid filter".
 */
export function filterNetworks<T extends NetworkRecord | BuiltinNetwork>(list: readonly T[], o: { filters: Readonly<Record<string, readonly string[]>>; inUse: (id: string) => boolean }): T[] {
  const { filters, inUse } = o;
  const known = new Set(['name', 'id', 'label', 'driver', 'type', 'scope', 'dangling']);
  for (const key of Object.keys(filters)) if (!known.has(key)) throw invalid(`invalid filter '${key}'`);
  for (const v of filters['type'] ?? []) if (v !== 'custom' && v !== 'builtin') throw invalid(`invalid filter 'type=${v}'`);
  for (const v of filters['dangling'] ?? []) if (!['true', 'false', '1', '0'].includes(v)) throw invalid(`invalid filter 'dangling=${v}'`);
  const any = (key: string, test: (v: string) => boolean): boolean => {
    const values = filters[key];
    return values === undefined || values.length === 0 || values.some(test);
  };
  return list.filter((n) => {
    const predefined = isBuiltin(n) || n.predefined;
    const labels = isBuiltin(n) ? {} : n.labels;
    return any('name', (v) => n.name.includes(v)) &&
      any('id', (v) => n.id.includes(v)) &&
      any('driver', (v) => v === n.driver) &&
      any('scope', (v) => v === 'local') &&
      any('type', (v) => (v === 'builtin') === predefined) &&
      any('dangling', (v) => (v === 'true' || v === '1') === (!inUse(n.id) && !predefined)) &&
      (filters['label'] ?? []).every((v) => {
        const eq = v.indexOf('=');
        return eq < 0 ? v in labels : labels[v.slice(0, eq)] === v.slice(eq + 1);
      });
  });
}

/** Find a network by full id, name, or unique id prefix (Docker's order); undefined if none. */
export function findNetwork<T extends { id: string; name: string }>(list: readonly T[], ref: string): T | undefined {
  const byId = list.find((n) => n.id === ref);
  if (byId !== undefined) return byId;
  const byName = list.find((n) => n.name === ref);
  if (byName !== undefined) return byName;
  if (!/^[a-f0-9]+$/.test(ref)) return undefined;
  const prefixed = list.filter((n) => n.id.startsWith(ref));
  if (prefixed.length > 1) throw invalid(`network ${ref} is ambiguous (${prefixed.length} matches found based on ID prefix)`);
  return prefixed[0];
}

export function noSuchNetwork(ref: string): EngineError {
  return new EngineError('not-found', 'ERR_NO_SUCH_NETWORK', `network ${ref} not found`);
}

/** Docker's refusal to remove a network with containers attached. */
export function networkInUse(n: NetworkRecord, containers: readonly AttachedContainer[]): EngineError {
  const first = containers[0];
  const who = first !== undefined ? ` (name:${JSON.stringify(first.containerName)} id:${JSON.stringify(first.containerId.slice(0, 12))})` : '';
  return new EngineError('forbidden', 'ERR_NETWORK_IN_USE', `error while removing network: network ${n.name} has active endpoints${who}`);
}

/** One `NetworkSettings.Networks[name]` entry of container inspect. */
export function endpointSettingsView(n: NetworkRecord, o: { attachment: AttachmentRecord; containerName: string; containerId: string }): Record<string, unknown> {
  const { attachment: a, containerName, containerId } = o;
  return {
    IPAMConfig: a.requestedIp !== undefined ? { IPv4Address: a.requestedIp } : null,
    Links: null,
    Aliases: n.dns ? a.aliases.filter((x) => x !== containerId.slice(0, 12)) : null,
    MacAddress: a.mac,
    DriverOpts: null,
    GwPriority: 0,
    NetworkID: n.id,
    EndpointID: a.endpointId,
    Gateway: n.internal ? '' : a.gateway,
    IPAddress: a.ip,
    IPPrefixLen: a.prefixLen,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DNSNames: n.dns ? [containerName, ...a.aliases] : null,
  };
}

/**
 * Container inspect's `NetworkSettings` for a running container: the top-level fields
 * Docker fills from the default bridge endpoint, `Ports`, and one entry per network.
 */
export function networkSettingsView(o: {
  endpoint: EndpointRecord | undefined;
  networks: readonly NetworkRecord[];
  exposedPorts: Readonly<Record<string, unknown>> | null | undefined;
  sandboxKey: string;
}): Record<string, unknown> {
  const byId = new Map(o.networks.map((n) => [n.id, n]));
  const nets: Record<string, unknown> = {};
  let bridgeAttachment: AttachmentRecord | undefined;
  const ports: PortMapping[] = o.endpoint?.ports ?? [];
  for (const a of o.endpoint?.attachments ?? []) {
    const n = byId.get(a.networkId);
    if (n === undefined) continue;
    nets[n.name] = endpointSettingsView(n, { attachment: a, containerName: o.endpoint!.containerName, containerId: o.endpoint!.containerId });
    if (n.predefined) bridgeAttachment = a;
  }
  return {
    Bridge: '',
    SandboxID: o.endpoint?.netnsName ?? '',
    SandboxKey: o.sandboxKey,
    HairpinMode: false,
    LinkLocalIPv6Address: '',
    LinkLocalIPv6PrefixLen: 0,
    Ports: portsView(o.exposedPorts, ports),
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: bridgeAttachment?.endpointId ?? '',
    Gateway: bridgeAttachment?.gateway ?? '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    IPAddress: bridgeAttachment?.ip ?? '',
    IPPrefixLen: bridgeAttachment?.prefixLen ?? 0,
    IPv6Gateway: '',
    MacAddress: bridgeAttachment?.mac ?? '',
    Networks: nets,
  };
}
