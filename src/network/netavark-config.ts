// The JSON netavark 1.4 reads on stdin for `setup` and `teardown` (its
// src/network/types.rs: NetworkOptions, Network, PerNetworkOptions, PortMapping) and the
// status block it prints. Pure; unit-tested against the shapes netavark 1.4.0 accepted on
// this machine (docs/networking.md has the commands).
import { EngineError, compareText, invalid } from '../base/index.js';
import type { NetworkRecord } from './types.js';
import type { PortMapping } from './ports.js';

export interface NetavarkSubnet {
  subnet: string;
  gateway: string;
}

/** netavark's `Network`. */
export interface NetavarkNetwork {
  name: string;
  id: string;
  driver: 'bridge';
  network_interface: string;
  subnets: NetavarkSubnet[];
  ipv6_enabled: false;
  internal: boolean;
  dns_enabled: boolean;
  options?: Record<string, string>;
}

/** netavark's `PerNetworkOptions`. */
export interface NetavarkPerNetwork {
  interface_name: string;
  static_ips: string[];
  aliases?: string[];
  static_mac?: string;
}

/** netavark's `PortMapping`; `host_ip` "" means every address (1.4 matches "0.0.0.0" literally, so never send it). */
export interface NetavarkPortMapping {
  host_ip: string;
  container_port: number;
  host_port: number;
  range: number;
  protocol: string;
}

/** netavark's `NetworkOptions`: one network per call in moat (see buildNetavarkOptions). */
export interface NetavarkOptions {
  container_id: string;
  container_name: string;
  networks: Record<string, NetavarkPerNetwork>;
  network_info: Record<string, NetavarkNetwork>;
  port_mappings?: NetavarkPortMapping[];
  dns_servers?: string[];
}

/** What setup reported for one interface. */
export interface NetavarkInterfaceStatus {
  mac: string;
  addresses: Array<{ ipnet: string; gateway?: string }>;
}

export interface NetavarkStatus {
  interfaces: Record<string, NetavarkInterfaceStatus>;
  dnsServers: string[];
  dnsSearch: string[];
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
/** Interface names: IFNAMSIZ is 16 with the NUL; no '/', ':' or spaces (netlink and /proc/sys paths). */
const IFNAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;
/**
 * DNS names given to aardvark-dns. Its config file separates fields by spaces and names by
 * commas, one container a line: anything else would let a name forge other entries.
 */
const DNS_NAME_RE = /^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,252})$/;

export function isValidInterfaceName(name: string): boolean {
  return IFNAME_RE.test(name) && name !== '.' && name !== '..';
}

/** A unicast MAC (`02:42:ac:11:00:02`), lower-cased; throws 'invalid' as Docker's "invalid MAC address". */
export function parseMac(text: string): string {
  const mac = text.toLowerCase().replaceAll('-', ':');
  if (!MAC_RE.test(mac)) throw invalid(`invalid MAC address: ${text}`);
  if ((Number.parseInt(mac.slice(0, 2), 16) & 1) === 1) throw invalid(`invalid MAC address: ${text}: a multicast address cannot be a container's address`);
  return mac;
}

/** Check a network alias (`--network-alias`, `Aliases`); throws 'invalid' naming it. */
export function checkAlias(alias: string): string {
  if (!DNS_NAME_RE.test(alias)) throw invalid(`invalid network alias ${JSON.stringify(alias)}: use letters, digits, '_', '.' and '-'`);
  return alias;
}

/** Merge consecutive ports (same address and protocol, both sides consecutive) into netavark ranges. */
export function toNetavarkPorts(ports: readonly PortMapping[]): NetavarkPortMapping[] {
  const sorted = [...ports].sort((a, b) => compareText(a.protocol, b.protocol) || compareText(a.hostIp, b.hostIp) || a.containerPort - b.containerPort);
  const out: NetavarkPortMapping[] = [];
  for (const p of sorted) {
    const hostIp = p.hostIp === '0.0.0.0' ? '' : p.hostIp;
    const last = out[out.length - 1];
    if (last !== undefined && last.protocol === p.protocol && last.host_ip === hostIp &&
        last.container_port + last.range === p.containerPort && last.host_port + last.range === p.hostPort) {
      last.range += 1;
      continue;
    }
    out.push({ host_ip: hostIp, container_port: p.containerPort, host_port: p.hostPort, range: 1, protocol: p.protocol });
  }
  return out;
}

/**
 * netavark's view of a moat network. The network's id is its netavark name: aardvark-dns
 * makes a file of that name and netavark hashes it into chain names, so a user-chosen name
 * never becomes a path or a rule.
 */
export function toNetavarkNetwork(n: NetworkRecord, o: { metric: number }): NetavarkNetwork {
  const options: Record<string, string> = { metric: String(o.metric) };
  const mtu = n.options['com.docker.network.driver.mtu'];
  if (mtu !== undefined && mtu !== '' && mtu !== '0') options['mtu'] = mtu;
  return {
    name: n.id,
    id: n.id,
    driver: 'bridge',
    network_interface: n.bridge,
    subnets: n.subnets.map((s) => ({ subnet: s.subnet, gateway: s.gateway })),
    ipv6_enabled: false,
    internal: n.internal,
    dns_enabled: n.dns,
    options,
  };
}

export interface AttachInput {
  containerId: string;
  containerName: string;
  network: NetworkRecord;
  interfaceName: string;
  ip: string;
  /** DNS names besides the container name; ignored by netavark when the network has no DNS. */
  aliases: readonly string[];
  mac?: string;
  /** Published ports: given only with the one attachment that publishes. */
  ports: readonly PortMapping[];
  dnsServers: readonly string[];
}

/**
 * The options for one `netavark setup` of one network. moat calls netavark once per
 * network (as podman does for `network connect`): published ports go with the first
 * non-internal network only (netavark 1.4 would otherwise add the same DNAT on every
 * network) and each network's default route gets its own metric (100 + index).
 */
export function buildNetavarkOptions(a: AttachInput): NetavarkOptions {
  if (!isValidInterfaceName(a.interfaceName)) throw invalid(`invalid interface name ${JSON.stringify(a.interfaceName)}`);
  const index = Number(/(\d+)$/.exec(a.interfaceName)?.[1] ?? '0');
  const per: NetavarkPerNetwork = { interface_name: a.interfaceName, static_ips: [a.ip] };
  if (a.network.dns) per.aliases = a.aliases.map(checkAlias);
  if (a.mac !== undefined) per.static_mac = parseMac(a.mac);
  const options: NetavarkOptions = {
    container_id: a.containerId,
    container_name: checkAlias(a.containerName),
    networks: { [a.network.id]: per },
    network_info: { [a.network.id]: toNetavarkNetwork(a.network, { metric: 100 + index }) },
  };
  if (a.ports.length > 0) options.port_mappings = toNetavarkPorts(a.ports);
  if (a.dnsServers.length > 0) options.dns_servers = [...a.dnsServers];
  return options;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Read `netavark setup`'s stdout for one network: `{"<name>":{"interfaces":{"eth0":
 * {"mac_address":…,"subnets":[{"ipnet":"10.0.0.2/24","gateway":"10.0.0.1"}]}},
 * "dns_server_ips":[…],"dns_search_domains":[…]}}`. Throws 'internal' on another shape.
 */
export function parseNetavarkStatus(stdout: string, networkName: string): NetavarkStatus {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch (err) {
    throw new EngineError('internal', 'ERR_NETAVARK_FAILED', `Cannot read netavark setup output: ${JSON.stringify(stdout.slice(0, 200))}`, { cause: err });
  }
  const block = isRecord(doc) ? doc[networkName] : undefined;
  if (!isRecord(block) || !isRecord(block['interfaces'])) {
    throw new EngineError('internal', 'ERR_NETAVARK_FAILED', `Cannot read netavark setup output: no status for network ${networkName}`);
  }
  const interfaces: Record<string, NetavarkInterfaceStatus> = {};
  for (const [name, iface] of Object.entries(block['interfaces'])) {
    if (!isRecord(iface) || typeof iface['mac_address'] !== 'string') {
      throw new EngineError('internal', 'ERR_NETAVARK_FAILED', `Cannot read netavark setup output: interface ${name} has no MAC address`);
    }
    const addresses: Array<{ ipnet: string; gateway?: string }> = [];
    for (const s of Array.isArray(iface['subnets']) ? iface['subnets'] : []) {
      if (!isRecord(s) || typeof s['ipnet'] !== 'string') continue;
      addresses.push({ ipnet: s['ipnet'], ...(typeof s['gateway'] === 'string' ? { gateway: s['gateway'] } : {}) });
    }
    interfaces[name] = { mac: iface['mac_address'], addresses };
  }
  return { interfaces, dnsServers: stringList(block['dns_server_ips']), dnsSearch: stringList(block['dns_search_domains']) };
}

/** netavark prints `{"error":"…"}` on failure; the message, or the raw text. */
export function netavarkErrorText(stdout: string, stderr: string): string {
  for (const text of [stdout, stderr]) {
    try {
      const doc: unknown = JSON.parse(text);
      if (isRecord(doc) && typeof doc['error'] === 'string') return doc['error'];
    } catch {
      // not JSON
    }
  }
  // iptables-nft prints a warning about legacy tables and aardvark-dns one about syslog: not errors.
  const lines = `${stdout}\n${stderr}`.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^# Warning: iptables-legacy tables present|^failed to connect to syslog/.test(l));
  return lines.join('; ').slice(0, 500);
}
