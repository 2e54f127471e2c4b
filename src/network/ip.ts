// IPv4 addresses and prefixes as unsigned 32-bit numbers. Pure.
// moat's networks are IPv4 only in this phase (Docker's default bridge is too); an IPv6
// value is refused with a clear message by the callers, never half-handled here.

/** An IPv4 prefix: network address (host bits zero) and length. */
export interface Cidr {
  readonly base: number;
  readonly bits: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** `10.0.0.1` -> 167772161; undefined when not a dotted-quad IPv4 address. */
export function tryParseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) return undefined;
    n = n * 256 + Number(p);
  }
  return n >>> 0;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** True for text that looks like an IPv6 address (so callers can say "IPv6 is not supported"). */
export function looksLikeIpv6(text: string): boolean {
  return text.includes(':');
}

export function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * `10.1.2.0/24` -> { base, bits }. `strict` refuses host bits (Docker refuses a subnet
 * like `10.1.2.3/24` for IPAM config); otherwise they are cleared.
 */
export function tryParseCidr(text: string, strict = true): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = tryParseIpv4(text.slice(0, slash));
  const bitsText = text.slice(slash + 1);
  if (addr === undefined || !/^(3[0-2]|[12]?\d)$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  const base = (addr & maskOf(bits)) >>> 0;
  if (strict && base !== addr) return undefined;
  return { base, bits };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.bits}`;
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.bits);
}

export function lastAddress(c: Cidr): number {
  return (c.base + cidrSize(c) - 1) >>> 0;
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ((ip & maskOf(c.bits)) >>> 0) === c.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b.base) || cidrContains(b, a.base);
}

/** True when `inner` lies wholly inside `outer`. */
export function cidrWithin(inner: Cidr, outer: Cidr): boolean {
  return inner.bits >= outer.bits && cidrContains(outer, inner.base);
}
