// Docker's legacy links (`--link target[:alias]`) on the default bridge, and as names in
// /etc/hosts only on a user-defined network (docker-compose 1.29's `run` links its one-off
// container to the service's containers there). At create each link names an existing
// container (on the default bridge, for a link there) and is stored in Docker's form
// (`/target:/source/alias`, what inspect shows); at start each target must be running, and
// the source gets `IP alias hostname name` in /etc/hosts and the `<ALIAS>_PORT_…` variables
// (moby daemon/links). Pure.
import { compareText, invalid } from '../base/index.js';
import type { ContainerRecord } from './types.js';

/** One link: the target container's name (without '/') and the alias it has in the source. */
export interface Link {
  readonly target: string;
  readonly alias: string;
}

/**
 * Parse one `HostConfig.Links` entry: `name[:alias]` as clients send it, or the stored
 * `/name:/source/alias` (an alias path keeps its last part). Throws 'invalid' naming it.
 */
export function parseLink(entry: string): Link {
  const [rawTarget = '', rawAlias, ...rest] = entry.split(':');
  const target = rawTarget.replace(/^\//, '');
  const alias = rawAlias === undefined ? target : rawAlias.slice(rawAlias.lastIndexOf('/') + 1);
  if (rest.length > 0 || target === '' || alias === '' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(alias)) {
    throw invalid(`invalid link ${JSON.stringify(entry)}: expected name[:alias]`);
  }
  return { target, alias };
}

/** The stored form, as Docker's inspect shows it: `/target:/source/alias`. */
export function storedLink(l: Link, sourceName: string): string {
  return `/${l.target}:/${sourceName.replace(/^\//, '')}/${l.alias}`;
}

/** True when the container's first network is the default bridge (the only one with links). */
export function onDefaultBridge(rec: ContainerRecord): boolean {
  const mode = rec.HostConfig.NetworkMode ?? '';
  return (mode === '' || mode === 'default' || mode === 'bridge') && rec.Config.NetworkDisabled !== true;
}

/** The user-defined network a container's links are on (its NetworkMode names one), else undefined. */
export function userLinkNetwork(rec: ContainerRecord): string | undefined {
  const mode = rec.HostConfig.NetworkMode ?? '';
  if (['', 'default', 'bridge', 'host', 'none'].includes(mode) || mode.startsWith('container:') || rec.Config.NetworkDisabled === true) return undefined;
  return mode;
}

/**
 * A container without a network (`--network none`, NetworkDisabled) takes links as dockerd
 * does: each target must exist at create, and nothing is written for them (no /etc/hosts
 * entry, no variables; the target need not run).
 */
export function linksIgnored(rec: ContainerRecord): boolean {
  return rec.HostConfig.NetworkMode === 'none' || rec.Config.NetworkDisabled === true;
}

/** moby's refusal of links with a network mode that shares another's stack (runconfig's errors), else undefined. */
export function linkModeConflict(rec: ContainerRecord): string | undefined {
  const mode = rec.HostConfig.NetworkMode ?? '';
  if (mode === 'host') return "conflicting options: host type networking can't be used with links. This would result in undefined behavior";
  if (mode.startsWith('container:')) return "conflicting options: container type network can't be used with links. This would result in undefined behavior";
  return undefined;
}

/** The /etc/hosts names of a link (moby: alias, the target's hostname, its name unless the alias is it). */
export function linkHostNames(l: Link, target: ContainerRecord): string {
  const names = [l.alias, target.Config.Hostname ?? target.Id.slice(0, 12)];
  const name = target.Name.replace(/^\//, '');
  if (l.alias !== name) names.push(name);
  return names.join(' ');
}

/** A port key of ExposedPorts (`80/tcp`) as number and protocol. */
function splitPort(key: string): { port: number; proto: string } | undefined {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(key);
  return m ? { port: Number(m[1]), proto: m[2] ?? 'tcp' } : undefined;
}

/**
 * The link's environment variables (moby links.ToEnv): `<ALIAS>_PORT` for the lowest port
 * (tcp first on a tie), `<ALIAS>_PORT_<port>_<PROTO>[_ADDR|_PORT|_PROTO]` for each exposed port,
 * `<ALIAS>_PORT_<first>_<PROTO>_START|_END|_PORT_START|_PORT_END` for runs of 3+ consecutive
 * ports (what `--expose 7000-7002` makes), `<ALIAS>_NAME=/source/alias`, `<ALIAS>_ENV_<VAR>` for the target's variables but HOME and PATH.
 */
export function linkEnv(l: Link, sourceName: string, target: ContainerRecord, ip: string): string[] {
  const alias = l.alias.toUpperCase().replace(/-/g, '_');
  const ports = Object.keys(target.Config.ExposedPorts ?? {})
    .map(splitPort)
    .filter((p): p is { port: number; proto: string } => p !== undefined)
    .sort((a, b) => a.port - b.port || (a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : compareText(a.proto, b.proto)));
  const env: string[] = [];
  const first = ports[0];
  if (first) env.push(`${alias}_PORT=${first.proto}://${ip}:${first.port}`);
  // Runs of three or more consecutive port numbers also get `_START`/`_END` variables
  // (moby's nextContiguous: the protocol is not compared, and two ports are no range).
  for (let i = 0; i < ports.length; ) {
    let j = i;
    while (j + 1 < ports.length && ports[j + 1]!.port === ports[j]!.port + 1) j++;
    if (j > i + 1) {
      const p = ports[i]!;
      const q = ports[j]!;
      const key = `${alias}_PORT_${p.port}_${p.proto.toUpperCase()}`;
      const endKey = `${alias}_PORT_${p.port}_${q.proto.toUpperCase()}`;
      env.push(`${key}_START=${p.proto}://${ip}:${p.port}`, `${key}_ADDR=${ip}`, `${key}_PROTO=${p.proto}`, `${key}_PORT_START=${p.port}`);
      env.push(`${endKey}_END=${q.proto}://${ip}:${q.port}`, `${endKey}_PORT_END=${q.port}`);
      i = j + 1;
    } else {
      i++;
    }
  }
  for (const p of ports) {
    const key = `${alias}_PORT_${p.port}_${p.proto.toUpperCase()}`;
    env.push(`${key}=${p.proto}://${ip}:${p.port}`, `${key}_ADDR=${ip}`, `${key}_PORT=${p.port}`, `${key}_PROTO=${p.proto}`);
  }
  env.push(`${alias}_NAME=/${sourceName.replace(/^\//, '')}/${l.alias}`);
  for (const v of target.Config.Env ?? []) {
    const at = v.indexOf('=');
    if (at <= 0) continue;
    const name = v.slice(0, at);
    if (name === 'HOME' || name === 'PATH') continue;
    env.push(`${alias}_ENV_${name}=${v.slice(at + 1)}`);
  }
  return env;
}

/**
 * A linking container's /etc/hosts after its link target started with address `ip`: the
 * address of each line naming `alias` right after the tab is replaced (moby etchosts.Update,
 * which libnetwork runs for the target's running "parents").
 */
export function updateLinkAddress(hosts: string, alias: string, ip: string): string {
  const quoted = alias.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return hosts.replace(new RegExp(`^\\S*(\\t${quoted})(\\s|\\.)`, 'gm'), `${ip}$1$2`);
}
