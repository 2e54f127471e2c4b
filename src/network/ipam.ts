// IP address management for bridge networks, as dockerd's default IPAM does it: subnets
// from address pools (`--default-address-pool`), `--bip`/`--fixed-cidr` for the default
// bridge, user subnets with gateway, ip-range and auxiliary addresses, and serial
// allocation of container addresses (the next free one after the last handed out, so a
// just-released address is not reused at once). Pure: the caller passes what is in use.
import { EngineError, invalid } from '../base/index.js';
import {
  type Cidr,
  cidrContains,
  cidrSize,
  cidrsOverlap,
  cidrWithin,
  formatCidr,
  formatIpv4,
  lastAddress,
  looksLikeIpv6,
  tryParseCidr,
  tryParseIpv4,
} from './ip.js';

/** One `--default-address-pool`: split `base` into subnets of prefix length `size`. */
export interface AddressPool {
  readonly base: Cidr;
  readonly size: number;
}

/** dockerd's built-in local pools (moby `ipamutils.localScopeDefaultNetworks`). */
export const DEFAULT_ADDRESS_POOLS: readonly AddressPool[] = [
  { base: { base: tryParseIpv4('172.17.0.0')!, bits: 16 }, size: 16 },
  { base: { base: tryParseIpv4('172.18.0.0')!, bits: 16 }, size: 16 },
  { base: { base: tryParseIpv4('172.19.0.0')!, bits: 16 }, size: 16 },
  { base: { base: tryParseIpv4('172.20.0.0')!, bits: 14 }, size: 16 },
  { base: { base: tryParseIpv4('172.24.0.0')!, bits: 14 }, size: 16 },
  { base: { base: tryParseIpv4('172.28.0.0')!, bits: 14 }, size: 16 },
  { base: { base: tryParseIpv4('192.168.0.0')!, bits: 16 }, size: 20 },
];

/** `base=10.10.0.0/16,size=24` (dockerd's flag syntax) -> pool. Throws 'invalid'. */
export function parseAddressPool(text: string): AddressPool {
  const fields = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw invalid(`invalid default-address-pool ${JSON.stringify(text)}: expected base=CIDR,size=N`);
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const baseText = fields.get('base') ?? '';
  const base = tryParseCidr(baseText, false);
  if (base === undefined) throw invalid(`invalid default-address-pool ${JSON.stringify(text)}: base ${JSON.stringify(baseText)} is not an IPv4 CIDR`);
  const size = Number(fields.get('size'));
  if (!Number.isInteger(size) || size < base.bits || size > 30) {
    throw invalid(`invalid default-address-pool ${JSON.stringify(text)}: size must be between the base prefix length ${base.bits} and 30`);
  }
  return { base, size };
}

/**
 * The first subnet of the pools that overlaps none of `taken` (other networks' subnets,
 * the host's routes and addresses), or undefined when every pool is used up.
 */
export function chooseSubnet(pools: readonly AddressPool[], taken: readonly Cidr[]): Cidr | undefined {
  for (const pool of pools) {
    const step = 2 ** (32 - pool.size);
    const end = pool.base.base + cidrSize(pool.base);
    for (let base = pool.base.base; base < end; base += step) {
      const candidate = { base: base >>> 0, bits: pool.size };
      if (!taken.some((t) => cidrsOverlap(t, candidate))) return candidate;
    }
  }
  return undefined;
}

/** One IPv4 subnet of a network, checked: gateway and auxiliary addresses inside it. */
export interface SubnetPlan {
  readonly subnet: Cidr;
  readonly gateway: number;
  /** Dynamic addresses come from here (Docker's IPRange / `--fixed-cidr`); defaults to the subnet. */
  readonly ipRange?: Cidr;
  /** Reserved, never handed out (Docker's AuxiliaryAddresses). */
  readonly auxAddresses: Readonly<Record<string, number>>;
  /** True when the user named the subnet: only then may containers ask for a static address (Docker's rule). */
  readonly userConfigured: boolean;
}

/** The wire form of one IPAM config entry (Docker's `IPAM.Config[i]`). */
export interface IpamConfigRequest {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

/** The subnet plan as stored in the network record and shown by inspect. */
export interface SubnetRecord {
  subnet: string;
  gateway: string;
  ipRange?: string;
  auxAddresses?: Record<string, string>;
  userConfigured: boolean;
}

function firstHost(c: Cidr): number {
  return c.bits >= 31 ? c.base : (c.base + 1) >>> 0;
}

/**
 * Check one IPAM config entry with moby's messages (`ValidateIPAM`); a missing subnet is
 * chosen from the pools. All problems are reported together.
 */
export function planSubnet(req: IpamConfigRequest, o: { pools: readonly AddressPool[]; taken: readonly Cidr[] }): SubnetPlan {
  const errs: string[] = [];
  const subnetText = req.Subnet ?? '';
  if (subnetText === '' && ((req.IPRange ?? '') !== '' || (req.Gateway ?? '') !== '')) {
    throw invalid('invalid network config:\ncannot set an ip-range or gateway without a subnet');
  }
  if (looksLikeIpv6(subnetText)) throw new EngineError('not-implemented', 'ERR_NETWORK_IPV6', 'IPv6 networks are not supported by moat yet');
  let subnet: Cidr | undefined;
  if (subnetText === '') {
    subnet = chooseSubnet(o.pools, o.taken);
    if (subnet === undefined) {
      throw new EngineError('conflict', 'ERR_NETWORK_POOLS_EXHAUSTED', 'all predefined address pools have been fully subnetted');
    }
  } else {
    const loose = tryParseCidr(subnetText, false);
    if (loose === undefined) {
      errs.push(`invalid subnet ${subnetText}: invalid CIDR block notation`);
    } else {
      if (tryParseCidr(subnetText, true) === undefined) errs.push(`invalid subnet ${subnetText}: it should be ${formatCidr(loose)}`);
      subnet = loose;
    }
  }
  let ipRange: Cidr | undefined;
  if (subnet !== undefined && (req.IPRange ?? '') !== '') {
    const text = req.IPRange!;
    const loose = tryParseCidr(text, false);
    if (loose === undefined) errs.push(`invalid ip-range ${text}: invalid CIDR block notation`);
    else {
      if (loose.bits < subnet.bits) errs.push(`invalid ip-range ${text}: CIDR block is bigger than its parent subnet ${formatCidr(subnet)}`);
      if (tryParseCidr(text, true) === undefined) errs.push(`invalid ip-range ${text}: it should be ${formatCidr(loose)}`);
      if (!cidrsOverlap(loose, subnet)) errs.push(`invalid ip-range ${text}: parent subnet ${formatCidr(subnet)} doesn't contain ip-range`);
      ipRange = loose;
    }
  }
  const inSubnet = (what: string, text: string): number | undefined => {
    const ip = tryParseIpv4(text);
    if (ip === undefined) {
      errs.push(`${what}: invalid address`);
      return undefined;
    }
    if (subnet !== undefined && !cidrContains(subnet, ip)) {
      errs.push(`${what}: parent subnet ${formatCidr(subnet)} doesn't contain this address`);
      return undefined;
    }
    return ip;
  };
  let gateway: number | undefined;
  if ((req.Gateway ?? '') !== '') gateway = inSubnet(`invalid gateway ${req.Gateway}`, req.Gateway!);
  const auxAddresses: Record<string, number> = {};
  for (const [name, text] of Object.entries(req.AuxiliaryAddresses ?? {})) {
    const ip = inSubnet(`invalid auxiliary address ${name}`, text);
    if (ip !== undefined) auxAddresses[name] = ip;
  }
  if (subnet !== undefined && subnet.bits > 30) errs.push(`invalid subnet ${formatCidr(subnet)}: a bridge network needs at least a /30`);
  if (errs.length > 0 || subnet === undefined) throw invalid(`invalid network config:\n${errs.join('\n')}`);
  return {
    subnet,
    gateway: gateway ?? firstHost(subnet),
    ...(ipRange !== undefined ? { ipRange } : {}),
    auxAddresses,
    userConfigured: subnetText !== '',
  };
}

/**
 * The default bridge: `--bip` names the bridge address and prefix (gateway = that
 * address), `--fixed-cidr` narrows container addresses; without `--bip` the first free
 * pool subnet is used, as dockerd picks docker0's.
 */
export function planDefaultBridge(o: { bip?: string; fixedCidr?: string; pools: readonly AddressPool[]; taken: readonly Cidr[] }): SubnetPlan {
  let subnet: Cidr;
  let gateway: number;
  if (o.bip !== undefined && o.bip !== '') {
    const slash = o.bip.indexOf('/');
    const ip = tryParseIpv4(slash < 0 ? o.bip : o.bip.slice(0, slash));
    const net = tryParseCidr(o.bip, false);
    if (ip === undefined || net === undefined || net.bits > 30) throw invalid(`invalid bip ${JSON.stringify(o.bip)}: expected an IPv4 address with a prefix length of at most 30, like 172.17.0.1/16`);
    if (ip === net.base || ip === lastAddress(net)) throw invalid(`invalid bip ${JSON.stringify(o.bip)}: the bridge address may not be the network or broadcast address`);
    subnet = net;
    gateway = ip;
  } else {
    const chosen = chooseSubnet(o.pools, o.taken);
    if (chosen === undefined) throw new EngineError('conflict', 'ERR_NETWORK_POOLS_EXHAUSTED', 'all predefined address pools have been fully subnetted');
    subnet = chosen;
    gateway = firstHost(chosen);
  }
  let ipRange: Cidr | undefined;
  if (o.fixedCidr !== undefined && o.fixedCidr !== '') {
    const fixed = tryParseCidr(o.fixedCidr, false);
    if (fixed === undefined) throw invalid(`invalid fixed-cidr ${JSON.stringify(o.fixedCidr)}: not an IPv4 CIDR`);
    if (!cidrWithin(fixed, subnet)) throw invalid(`invalid fixed-cidr ${o.fixedCidr}: it is not within the bridge subnet ${formatCidr(subnet)}`);
    ipRange = fixed;
  }
  return { subnet, gateway, ...(ipRange !== undefined ? { ipRange } : {}), auxAddresses: {}, userConfigured: false };
}

export function subnetToRecord(p: SubnetPlan): SubnetRecord {
  const aux = Object.entries(p.auxAddresses);
  return {
    subnet: formatCidr(p.subnet),
    gateway: formatIpv4(p.gateway),
    ...(p.ipRange !== undefined ? { ipRange: formatCidr(p.ipRange) } : {}),
    ...(aux.length > 0 ? { auxAddresses: Object.fromEntries(aux.map(([k, v]) => [k, formatIpv4(v)])) } : {}),
    userConfigured: p.userConfigured,
  };
}

/** Back from the record; throws 'internal' when the record is corrupt (the store checks this at load). */
export function subnetFromRecord(r: SubnetRecord): SubnetPlan {
  const subnet = tryParseCidr(r.subnet);
  const gateway = tryParseIpv4(r.gateway);
  const ipRange = r.ipRange === undefined ? undefined : tryParseCidr(r.ipRange);
  if (subnet === undefined || gateway === undefined || (r.ipRange !== undefined && ipRange === undefined)) {
    throw new EngineError('internal', 'ERR_NETWORK_RECORD', `Cannot read network record: bad subnet ${JSON.stringify(r)}`);
  }
  const auxAddresses: Record<string, number> = {};
  for (const [k, v] of Object.entries(r.auxAddresses ?? {})) {
    const ip = tryParseIpv4(v);
    if (ip === undefined) throw new EngineError('internal', 'ERR_NETWORK_RECORD', `Cannot read network record: bad auxiliary address ${JSON.stringify(v)}`);
    auxAddresses[k] = ip;
  }
  return { subnet, gateway, ...(ipRange !== undefined ? { ipRange } : {}), auxAddresses, userConfigured: r.userConfigured };
}

/** Addresses never handed to a container: network, broadcast, gateway, auxiliary. */
function reserved(p: SubnetPlan, ip: number): boolean {
  if (p.subnet.bits < 31 && (ip === p.subnet.base || ip === lastAddress(p.subnet))) return true;
  if (ip === p.gateway) return true;
  return Object.values(p.auxAddresses).includes(ip);
}

/**
 * The next free address after `cursor` (wrapping) in the ip-range, or the subnet.
 * Returns undefined when none is left.
 */
export function allocateAddress(p: SubnetPlan, o: { used: ReadonlySet<number>; cursor?: number | undefined }): number | undefined {
  const { used, cursor } = o;
  const range = p.ipRange ?? p.subnet;
  const size = cidrSize(range);
  const start = cursor !== undefined && cidrContains(range, cursor) ? cursor - range.base + 1 : 0;
  for (let i = 0; i < size; i++) {
    const ip = (range.base + ((start + i) % size)) >>> 0;
    if (!reserved(p, ip) && !used.has(ip)) return ip;
  }
  return undefined;
}

/** Docker's refusal when no address is left. */
export function noAddressLeft(networkName: string): EngineError {
  return new EngineError('unavailable', 'ERR_NETWORK_NO_ADDRESS', `no available IPv4 addresses on this network's address pools: ${networkName}`);
}

/**
 * Check a container's requested static address (`--ip`, `IPAMConfig.IPv4Address`) with
 * Docker's messages; returns it parsed.
 */
export function checkStaticAddress(p: SubnetPlan, o: { address: string; used: ReadonlySet<number> }): number {
  const { address: text, used } = o;
  if (!p.userConfigured) {
    throw invalid('user specified IP address is supported only when connecting to networks with user configured subnets');
  }
  if (looksLikeIpv6(text)) throw new EngineError('not-implemented', 'ERR_NETWORK_IPV6', 'IPv6 networks are not supported by moat yet');
  const ip = tryParseIpv4(text);
  if (ip === undefined) throw invalid(`invalid IPv4 address: ${text}`);
  if (!cidrContains(p.subnet, ip)) {
    throw invalid(`no configured subnet or ip-range contain the IP address ${text}`);
  }
  if (reserved(p, ip) || used.has(ip)) throw new EngineError('conflict', 'ERR_NETWORK_ADDRESS_IN_USE', `Address already in use: ${text}`);
  return ip;
}

/** The netmask length of a plan, for `IPPrefixLen` and `a.b.c.d/len` strings. */
export function prefixOf(p: SubnetPlan): number {
  return p.subnet.bits;
}

