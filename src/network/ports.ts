// Published ports: the `-p` syntax (docker CLI's `nat.ParsePortSpec`), Docker's wire form
// (`ExposedPorts`, `HostConfig.PortBindings`, `PublishAllPorts`) turned into checked port
// requests, and the views inspect, `docker port` and `/containers/json` show. Pure.
import { EngineError, compareText, invalid } from '../base/index.js';
import { looksLikeIpv6, tryParseIpv4 } from './ip.js';

export type PortProtocol = 'tcp' | 'udp';

/** Docker's wire form of one binding (`PortBindings["80/tcp"][i]`). */
export interface PortBindingWire {
  HostIp?: string;
  HostPort?: string;
}

/** One published port as requested: host port 0 means "any free port in the range". */
export interface PortRequest {
  readonly containerPort: number;
  readonly protocol: PortProtocol;
  /** A concrete IPv4 address; `0.0.0.0` is every address. */
  readonly hostIp: string;
  /** Inclusive range; both 0 for a random ephemeral port. */
  readonly hostPortFirst: number;
  readonly hostPortLast: number;
}

/** One published port as set up: a concrete host port. */
export interface PortMapping {
  readonly containerPort: number;
  readonly protocol: PortProtocol;
  readonly hostIp: string;
  readonly hostPort: number;
}

function parsePortNumber(text: string, what: string): number {
  if (!/^\d{1,5}$/.test(text)) throw invalid(`invalid ${what}: ${text}`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw invalid(`invalid ${what}: ${text}`);
  return n;
}

/** `8000-8010` -> [8000, 8010]; `80` -> [80, 80]. */
function parseRange(text: string, what: string): [number, number] {
  const dash = text.indexOf('-');
  if (dash < 0) {
    const n = parsePortNumber(text, what);
    return [n, n];
  }
  const a = parsePortNumber(text.slice(0, dash), what);
  const b = parsePortNumber(text.slice(dash + 1), what);
  if (b < a) throw invalid(`invalid ${what}: ${text}`);
  return [a, b];
}

export function parseProtocol(text: string): PortProtocol {
  const p = text.toLowerCase();
  if (p === 'tcp' || p === 'udp') return p;
  if (p === 'sctp') throw new EngineError('not-implemented', 'ERR_PORT_PROTOCOL', 'sctp ports are not supported by moat yet');
  throw invalid(`invalid proto: ${text}`);
}

/** `80/tcp` or `80-90/udp` (an ExposedPorts or PortBindings key) -> range and protocol. */
export function parsePortKey(key: string): { first: number; last: number; protocol: PortProtocol } {
  const slash = key.indexOf('/');
  const [first, last] = parseRange(slash < 0 ? key : key.slice(0, slash), 'containerPort');
  return { first, last, protocol: parseProtocol(slash < 0 ? 'tcp' : key.slice(slash + 1)) };
}

/**
 * `-p [ip:][hostPort:]containerPort[/proto]` as the docker CLI parses it, into Docker's wire
 * form: ExposedPorts keys and PortBindings. Ranges pair up one to one; a host range with one
 * container port stays a range (the daemon picks a free port in it).
 *
 * @example
 * parsePortSpec('127.0.0.1:8080:80') // { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] }
 */
export function parsePortSpec(spec: string): Record<string, PortBindingWire[]> {
  let rest = spec;
  let proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
  }
  const protocol = parseProtocol(proto);
  let ip = '';
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw invalid(`invalid port specification: ${JSON.stringify(spec)}`);
    ip = rest.slice(1, close);
    rest = rest.slice(close + 1);
    if (!rest.startsWith(':')) throw invalid(`invalid port specification: ${JSON.stringify(spec)}`);
    rest = rest.slice(1);
    if (rest.split(':').length !== 2) throw invalid(`invalid port specification: ${JSON.stringify(spec)}`);
  }
  const parts = rest.split(':');
  let hostPart = '';
  let containerPart: string;
  if (parts.length === 1) containerPart = parts[0]!;
  else if (parts.length === 2) [hostPart, containerPart] = [parts[0]!, parts[1]!];
  else if (parts.length === 3 && ip === '') [ip, hostPart, containerPart] = [parts[0]!, parts[1]!, parts[2]!];
  else throw invalid(`invalid port specification: ${JSON.stringify(spec)}`);
  if (ip !== '') checkHostIp(ip);
  if (containerPart === '') throw invalid(`no port specified: ${spec}<empty>`);
  const [cFirst, cLast] = parseRange(containerPart, 'containerPort');
  const out: Record<string, PortBindingWire[]> = {};
  if (hostPart === '' || hostPart === '0') {
    // `-p 0:80` is `-p 80`: a port the daemon picks (the docker CLI sends '0', moby allocates one).
    for (let p = cFirst; p <= cLast; p++) out[`${p}/${protocol}`] = [{ HostIp: ip, HostPort: hostPart }];
    return out;
  }
  const [hFirst, hLast] = parseRange(hostPart, 'hostPort');
  const cCount = cLast - cFirst;
  const hCount = hLast - hFirst;
  if (cCount === 0 && hCount > 0) {
    out[`${cFirst}/${protocol}`] = [{ HostIp: ip, HostPort: `${hFirst}-${hLast}` }];
    return out;
  }
  if (cCount !== hCount) throw invalid(`invalid ranges specified for container and host Ports: ${containerPart} and ${hostPart}`);
  for (let i = 0; i <= cCount; i++) out[`${cFirst + i}/${protocol}`] = [{ HostIp: ip, HostPort: String(hFirst + i) }];
  return out;
}

function checkHostIp(ip: string): void {
  if (looksLikeIpv6(ip)) throw new EngineError('not-implemented', 'ERR_NETWORK_IPV6', `IPv6 host addresses are not supported by moat yet: ${ip}`);
  if (tryParseIpv4(ip) === undefined) throw invalid(`invalid IP address: ${ip}`);
}

/** What a container asked for, in Docker's wire form. */
export interface PortInput {
  exposedPorts?: Readonly<Record<string, unknown>> | null;
  portBindings?: Readonly<Record<string, readonly PortBindingWire[] | null>> | null;
  publishAllPorts?: boolean;
  /** The daemon's `--ip`: the address used when a binding names none (moat: 127.0.0.1). */
  defaultHostIp: string;
}

/**
 * Check and normalise published ports. Every bad value is a 400 naming the field; `-P`
 * publishes every exposed port that has no binding on a random port.
 */
export function planPortRequests(input: PortInput): PortRequest[] {
  const out: PortRequest[] = [];
  const bound = new Set<string>();
  for (const [key, list] of Object.entries(input.portBindings ?? {})) {
    let k: ReturnType<typeof parsePortKey>;
    try {
      k = parsePortKey(key);
    } catch (err) {
      throw withField(`HostConfig.PortBindings[${JSON.stringify(key)}]`, err);
    }
    if (k.first !== k.last) throw invalid(`HostConfig.PortBindings[${JSON.stringify(key)}]: a port range is not a valid key; list each port`);
    bound.add(`${k.first}/${k.protocol}`);
    const bindings = list === null || list.length === 0 ? [{}] : list;
    bindings.forEach((b, i) => {
      const field = `HostConfig.PortBindings[${JSON.stringify(key)}][${i}]`;
      try {
        const hostIp = b.HostIp === undefined || b.HostIp === '' ? input.defaultHostIp : b.HostIp;
        checkHostIp(hostIp);
        // '' and '0' are a port the daemon picks (moby's allocator takes 0 as "any"; Testcontainers sends '0').
        const [first, last] = b.HostPort === undefined || b.HostPort === '' || b.HostPort === '0' ? [0, 0] : parseRange(b.HostPort, 'hostPort');
        out.push({ containerPort: k.first, protocol: k.protocol, hostIp, hostPortFirst: first, hostPortLast: last });
      } catch (err) {
        throw withField(field, err);
      }
    });
  }
  if (input.publishAllPorts === true) {
    for (const key of Object.keys(input.exposedPorts ?? {})) {
      let k: ReturnType<typeof parsePortKey>;
      try {
        k = parsePortKey(key);
      } catch (err) {
        throw withField(`Config.ExposedPorts[${JSON.stringify(key)}]`, err);
      }
      for (let p = k.first; p <= k.last; p++) {
        if (bound.has(`${p}/${k.protocol}`)) continue;
        out.push({ containerPort: p, protocol: k.protocol, hostIp: input.defaultHostIp, hostPortFirst: 0, hostPortLast: 0 });
      }
    }
  }
  // The same host address, port and protocol twice in one container cannot both be bound.
  const fixed = new Map<string, PortRequest>();
  for (const r of out) {
    if (r.hostPortFirst === 0 || r.hostPortFirst !== r.hostPortLast) continue;
    const id = `${r.hostIp}:${r.hostPortFirst}/${r.protocol}`;
    const other = fixed.get(id);
    if (other !== undefined) {
      throw new EngineError('conflict', 'ERR_PORT_IN_USE', `Bind for ${r.hostIp}:${r.hostPortFirst} failed: port is already allocated`);
    }
    fixed.set(id, r);
  }
  return out;
}

function withField(field: string, err: unknown): EngineError {
  if (err instanceof EngineError) return new EngineError(err.kind, err.code, `${field}: ${err.message}`, { cause: err });
  return invalid(`${field}: ${String(err)}`);
}

/** Every exposed port key (ExposedPorts plus bound ports), sorted as Docker lists them. */
export function exposedPortKeys(exposed: Readonly<Record<string, unknown>> | null | undefined, mappings: readonly PortMapping[]): string[] {
  const keys = new Set<string>();
  for (const key of Object.keys(exposed ?? {})) {
    const k = parsePortKey(key);
    for (let p = k.first; p <= k.last; p++) keys.add(`${p}/${k.protocol}`);
  }
  for (const m of mappings) keys.add(`${m.containerPort}/${m.protocol}`);
  return [...keys].sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10) || compareText(a, b));
}

/**
 * inspect's `NetworkSettings.Ports` (and the body of `GET /containers/{id}/json` that
 * `docker port` reads): every exposed port, with its bindings or null.
 */
export function portsView(exposed: Readonly<Record<string, unknown>> | null | undefined, mappings: readonly PortMapping[]): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const view: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const key of exposedPortKeys(exposed, mappings)) view[key] = null;
  for (const m of mappings) {
    const key = `${m.containerPort}/${m.protocol}`;
    (view[key] ??= []).push({ HostIp: m.hostIp, HostPort: String(m.hostPort) });
  }
  return view;
}

/** `/containers/json` `Ports`: published ports with their host side, exposed ones without. */
export function portListView(exposed: Readonly<Record<string, unknown>> | null | undefined, mappings: readonly PortMapping[]): Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> {
  const out: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> = [];
  const published = new Set(mappings.map((m) => `${m.containerPort}/${m.protocol}`));
  for (const m of mappings) out.push({ IP: m.hostIp, PrivatePort: m.containerPort, PublicPort: m.hostPort, Type: m.protocol });
  for (const key of exposedPortKeys(exposed, [])) {
    if (published.has(key)) continue;
    const k = parsePortKey(key);
    out.push({ PrivatePort: k.first, Type: k.protocol });
  }
  return out;
}
