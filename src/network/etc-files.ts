// /etc/hosts and /etc/resolv.conf as Docker writes them for a container. Pure.
//
// hosts (moby libnetwork `etchosts.Build` then the sandbox's own record): the default
// records, the `--add-host` records, then `IP<TAB>fqdn hostname` for the container's
// address on its first network (none with `--network none`).
//
// resolv.conf (moby libnetwork `resolvconf`): on the default bridge the host's file without
// loopback nameservers (they cannot be reached from the container's namespace), Google's
// public servers when none is left; on a network with DNS the network's DNS address
// (Docker: 127.0.0.11; moat: aardvark-dns on the gateway) with `options ndots:0`, the
// host's servers becoming the upstream. `--dns`, `--dns-search`, `--dns-option` replace
// their part.
import { invalid } from '../base/index.js';
import { looksLikeIpv6, tryParseIpv4 } from './ip.js';

const DEFAULT_HOSTS: ReadonlyArray<readonly [string, string]> = [
  ['127.0.0.1', 'localhost'],
  ['::1', 'localhost ip6-localhost ip6-loopback'],
  ['fe00::0', 'ip6-localnet'],
  ['ff00::0', 'ip6-mcastprefix'],
  ['ff02::1', 'ip6-allnodes'],
  ['ff02::2', 'ip6-allrouters'],
];

const HOSTNAME_RE = /^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,252})$/;

/** One `--add-host name:ip` (`ExtraHosts` entry); `host-gateway` is replaced by `hostGateway`. */
export interface HostRecord {
  readonly names: string;
  readonly ip: string;
}

/**
 * Parse `ExtraHosts` (`name:ip`, the IP may be IPv6 and contain colons; `host-gateway`
 * stands for the daemon's host-gateway address). Throws 'invalid' naming the entry.
 */
export function parseExtraHosts(entries: readonly string[] | null | undefined, hostGateway: string | undefined): HostRecord[] {
  const out: HostRecord[] = [];
  for (const e of entries ?? []) {
    // Docker accepts `name:ip` and (since 25) `name=ip`.
    const sep = e.includes('=') ? e.indexOf('=') : e.indexOf(':');
    const name = sep < 0 ? '' : e.slice(0, sep);
    let ip = sep < 0 ? '' : e.slice(sep + 1);
    if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
    if (!HOSTNAME_RE.test(name)) throw invalid(`invalid argument "${e}" for "--add-host" flag: invalid host name ${JSON.stringify(name)}`);
    if (ip === 'host-gateway') {
      // moby's words; moat has no host-gateway without a default bridge (--bridge none).
      if (hostGateway === undefined) throw invalid(`invalid argument "${e}" for "--add-host" flag: unable to derive the IP value for host-gateway: moatd runs without a default bridge`);
      ip = hostGateway;
    }
    if (tryParseIpv4(ip) === undefined && !(looksLikeIpv6(ip) && /^[0-9a-fA-F:.]+$/.test(ip))) {
      throw invalid(`invalid argument "${e}" for "--add-host" flag: invalid IP address ${JSON.stringify(ip)}`);
    }
    out.push({ names: name, ip });
  }
  return out;
}

export interface HostsInput {
  hostname: string;
  domainname?: string;
  /** The container's address on its first network; undefined with `--network none`. */
  ip?: string;
  extraHosts: readonly HostRecord[];
}

/** The container's /etc/hosts. */
export function buildHostsFile(h: HostsInput): string {
  const lines = DEFAULT_HOSTS.map(([ip, names]) => `${ip}\t${names}`);
  for (const r of h.extraHosts) lines.push(`${r.ip}\t${r.names}`);
  if (h.ip !== undefined && h.ip !== '') {
    const fqdn = h.domainname !== undefined && h.domainname !== '' ? `${h.hostname}.${h.domainname}` : h.hostname;
    const short = fqdn.split('.')[0]!;
    lines.push(`${h.ip}\t${fqdn === short ? fqdn : `${fqdn} ${short}`}`);
  }
  return lines.join('\n') + '\n';
}

/** The parts of a resolv.conf moat reads and writes. */
export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

/** Parse resolv.conf text (the host's): nameserver, search/domain and options lines. */
export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0] !== undefined) out.nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') out.search = rest;
    else if (key === 'options') out.options.push(...rest);
  }
  return out;
}

/** Google's public resolvers, Docker's fallback when the host has only loopback ones. */
export const FALLBACK_NAMESERVERS: readonly string[] = ['8.8.8.8', '8.8.4.4'];

function isLoopback(ns: string): boolean {
  return ns.startsWith('127.') || ns === '::1' || ns === '0:0:0:0:0:0:0:1';
}

export interface ResolvInput {
  host: ResolvConf;
  /** `--dns`, `--dns-search`, `--dns-option` (empty: keep the host's). */
  dns: readonly string[];
  dnsSearch: readonly string[];
  dnsOptions: readonly string[];
  /** The DNS server on the container's network (aardvark-dns on the gateway), if it has one. */
  networkDns?: string;
}

/** Check `--dns` values: IPv4 addresses (moat's networks are IPv4). Throws 'invalid'. */
export function checkDnsServers(servers: readonly string[]): string[] {
  return servers.map((s) => {
    if (tryParseIpv4(s) === undefined) throw invalid(`invalid DNS server address ${JSON.stringify(s)}: IPv4 addresses only`);
    return s;
  });
}

/**
 * The container's /etc/resolv.conf. With a network DNS server the nameserver is that one
 * (its upstream is `--dns` or the host's servers, given to aardvark-dns separately).
 */
export function buildResolvConf(r: ResolvInput): string {
  const search = r.dnsSearch.length > 0 ? [...r.dnsSearch] : r.host.search;
  let nameservers: string[];
  let options = r.dnsOptions.length > 0 ? [...r.dnsOptions] : [...r.host.options];
  if (r.networkDns !== undefined) {
    nameservers = [r.networkDns];
    if (!options.some((o) => o.startsWith('ndots:'))) options = [...options, 'ndots:0'];
  } else if (r.dns.length > 0) {
    nameservers = [...r.dns];
  } else {
    nameservers = r.host.nameservers.filter((ns) => !isLoopback(ns) && !looksLikeIpv6(ns));
    if (nameservers.length === 0) nameservers = [...FALLBACK_NAMESERVERS];
  }
  const lines: string[] = [];
  if (search.length > 0 && search.join(' ').trim() !== '.') lines.push(`search ${search.join(' ')}`);
  for (const ns of nameservers) lines.push(`nameserver ${ns}`);
  if (options.length > 0) lines.push(`options ${options.join(' ')}`);
  return lines.join('\n') + '\n';
}

