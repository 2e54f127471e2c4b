// Where a repository lives and how to reach it. Pure. Docker's rules: a name without a
// registry host is on Docker Hub (`busybox` = docker.io/library/busybox, served by
// registry-1.docker.io, or a configured mirror); HTTPS always, plain HTTP only for loopback
// registries and `--insecure-registry` entries (moby registry/config.go, service_v2.go).
import { isIPv4 } from 'node:net';
import { EngineError } from '../../base/index.js';

export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_API = 'registry-1.docker.io';

/** A repository on a registry: `domain` as in the reference, `path` as in the API URL. */
export interface RemoteName {
  /** `docker.io`, `127.0.0.1:5000`, `localhost:5000`, `ghcr.io` */
  domain: string;
  /** `library/busybox`, `app`, `org/app` */
  path: string;
}

/**
 * Split a familiar repository name (`busybox`, `me/app`, `127.0.0.1:5000/app`) into registry
 * domain and path.
 *
 * @example
 * remoteName('busybox') // { domain: 'docker.io', path: 'library/busybox' }
 */
export function remoteName(repo: string): RemoteName {
  const parts = repo.split('/');
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    const domain = first === 'index.docker.io' ? DOCKER_HUB : first;
    const path = parts.slice(1).join('/');
    return { domain, path: domain === DOCKER_HUB && !path.includes('/') ? `library/${path}` : path };
  }
  return { domain: DOCKER_HUB, path: parts.length === 1 ? `library/${repo}` : repo };
}

/** The fully qualified name `docker.io/library/busybox` (policy patterns match this). */
export function qualifiedName(n: RemoteName): string {
  return `${n.domain}/${n.path}`;
}

/** One base URL to try, and whether a certificate error may be ignored. */
export interface Endpoint {
  /** `https://127.0.0.1:5000` (no trailing slash) */
  url: string;
  /** The `host:port` of certs.d and of error messages. */
  host: string;
  /** Skip certificate verification (explicit --insecure-registry only, as Docker). */
  skipVerify: boolean;
  mirror: boolean;
}

export interface EndpointConfig {
  /** `--insecure-registry`: `host[:port]` or IPv4 CIDRs. */
  insecureRegistries: readonly string[];
  /** `--registry-mirror`: URLs used for Docker Hub pulls before Docker Hub itself. */
  registryMirrors: readonly string[];
  /**
   * `--block-registry`: registries moatd never contacts (`host[:port]`, `docker.io` for Docker
   * Hub). An air-gapped host, or tests that must not reach the network, block Docker Hub: a
   * short name then fails at once instead of after a DNS lookup. Mirrors are still used.
   */
  blockedRegistries?: readonly string[];
}

/** True when `domain` is named by `--block-registry` (Docker Hub by `docker.io` or its API host). */
export function isBlocked(domain: string, c: EndpointConfig): boolean {
  const hub = domain === DOCKER_HUB || domain === DOCKER_HUB_API;
  return (c.blockedRegistries ?? []).some((b) => b === domain || (hub && (b === DOCKER_HUB || b === DOCKER_HUB_API || b === 'registry-1.docker.io' || b === 'index.docker.io')));
}

function hostOnly(domain: string): string {
  if (domain.startsWith('[')) return domain.slice(1, domain.indexOf(']'));
  const colon = domain.lastIndexOf(':');
  return colon >= 0 ? domain.slice(0, colon) : domain;
}

/** localhost, 127.0.0.0/8 and ::1: plain HTTP is allowed there, as Docker does. */
export function isLoopback(domain: string): boolean {
  const h = hostOnly(domain);
  return h === 'localhost' || h === '::1' || (isIPv4(h) && h.startsWith('127.'));
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
}

/** True when `domain` is listed (exactly, by host, or inside a CIDR) in --insecure-registry. */
export function isInsecure(domain: string, insecure: readonly string[]): boolean {
  const h = hostOnly(domain);
  for (const entry of insecure) {
    const e = entry.replace(/^https?:\/\//, '').replace(/\/$/, '');
    if (e === domain || e === h) return true;
    const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(e);
    if (m && isIPv4(h)) {
      const bits = Number(m[2]);
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      if ((ipv4ToInt(h) & mask) === (ipv4ToInt(m[1]!) & mask)) return true;
    }
  }
  return false;
}

function blockedError(domain: string): EngineError {
  return new EngineError('forbidden', 'ERR_REGISTRY_BLOCKED', `registry ${domain} is blocked by the daemon's configuration (--block-registry): nothing was sent to it`);
}

/** Check daemon registry settings; throws 400 naming the bad entry. */
export function checkEndpointConfig(c: EndpointConfig): void {
  for (const m of c.registryMirrors) {
    let u: URL;
    try {
      u = new URL(m);
    } catch {
      throw new EngineError('invalid', 'ERR_INVALID_ARGUMENT', `invalid registry mirror ${JSON.stringify(m)}: not a URL`);
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new EngineError('invalid', 'ERR_INVALID_ARGUMENT', `invalid registry mirror ${JSON.stringify(m)}: must be http or https`);
    if (u.username !== '' || u.password !== '') throw new EngineError('invalid', 'ERR_INVALID_ARGUMENT', `invalid registry mirror ${JSON.stringify(u.host)}: credentials in the URL are not allowed`);
  }
  for (const e of c.insecureRegistries) {
    if (!/^[A-Za-z0-9.:[\]/-]+$/.test(e)) throw new EngineError('invalid', 'ERR_INVALID_ARGUMENT', `invalid insecure registry ${JSON.stringify(e)}`);
  }
  for (const e of c.blockedRegistries ?? []) {
    if (!/^[A-Za-z0-9.:[\]-]+$/.test(e)) throw new EngineError('invalid', 'ERR_INVALID_ARGUMENT', `invalid blocked registry ${JSON.stringify(e)}: expected host[:port]`);
  }
}

/**
 * The endpoints to try for a registry, in order. HTTPS first; an HTTP endpoint follows only
 * for loopback and insecure registries. For Docker Hub the mirrors come first (pulls only).
 *
 * @example
 * endpointsFor('127.0.0.1:5000', cfg, 'pull').map((e) => e.url)
 * // ['https://127.0.0.1:5000', 'http://127.0.0.1:5000']
 */
export function endpointsFor(domain: string, c: EndpointConfig, purpose: 'pull' | 'push'): Endpoint[] {
  const out: Endpoint[] = [];
  const blocked = isBlocked(domain, c);
  if (domain === DOCKER_HUB) {
    if (purpose === 'pull') {
      for (const m of c.registryMirrors) {
        const u = new URL(m);
        const host = u.host;
        if (isBlocked(host, c)) continue;
        out.push({ url: `${u.protocol}//${host}`, host, skipVerify: isInsecure(host, c.insecureRegistries), mirror: true });
      }
    }
    if (!blocked) out.push({ url: `https://${DOCKER_HUB_API}`, host: DOCKER_HUB_API, skipVerify: false, mirror: false });
    if (out.length === 0) throw blockedError(domain);
    return out;
  }
  if (blocked) throw blockedError(domain);
  const insecure = isInsecure(domain, c.insecureRegistries);
  out.push({ url: `https://${domain}`, host: domain, skipVerify: insecure, mirror: false });
  if (insecure || isLoopback(domain)) out.push({ url: `http://${domain}`, host: domain, skipVerify: false, mirror: false });
  return out;
}
