// The /etc files moat writes for a container and binds into it. Written at create; written
// again at start when the container's network gives them an address and a DNS server.
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { buildHostsFile, buildResolvConf, parseExtraHosts, parseResolvConf, type HostRecord } from '../network/index.js';
import type { BundlePaths } from './bundle.js';
import type { NetworkFacts } from './networking.js';
import type { ContainerRecord } from './types.js';

export interface EtcFiles {
  hostname: string;
  hosts: string;
  resolvConf: string;
}

/**
 * The container's /etc/hostname, /etc/hosts and /etc/resolv.conf, by the network module's
 * builders: hosts with the container's name on its address (loopback while it has only a
 * loopback interface), resolv.conf from the host's without loopback servers, or `--dns` /
 * `--dns-search` / `--dns-option`, or the network's DNS server; `links` (running link
 * targets) after the `--add-host` records, as Docker. Pure.
 */
export function etcFiles(rec: ContainerRecord, hostResolvConf: string, net: NetworkFacts = {}, links: readonly HostRecord[] = []): EtcFiles {
  const hc = rec.HostConfig;
  const hostname = rec.Config.Hostname ?? rec.Id.slice(0, 12);
  return {
    hostname: `${hostname}\n`,
    hosts: buildHostsFile({ hostname, ...(rec.Config.Domainname ? { domainname: rec.Config.Domainname } : {}), ip: net.ip ?? '127.0.0.1', extraHosts: [...parseExtraHosts(hc.ExtraHosts, net.hostGateway), ...links] }),
    resolvConf: buildResolvConf({
      host: parseResolvConf(hostResolvConf),
      dns: hc.Dns ?? [],
      dnsSearch: hc.DnsSearch ?? [],
      dnsOptions: hc.DnsOptions ?? [],
      ...(net.networkDns !== undefined ? { networkDns: net.networkDns } : {}),
    }),
  };
}

/** Write the files into the bundle dir (in place: they are bind mounts of a running container). */
export function writeEtcFiles(b: BundlePaths, files: EtcFiles): void {
  // Three small files in moatd's own bundle dir (the container sees each through a bind
  // mount of the file, never the directory): synchronous, microseconds each, where each
  // was a thread-pool round trip on the way to a create's answer.
  writeFileSync(b.hostname, files.hostname, { mode: 0o644 });
  writeFileSync(b.hosts, files.hosts, { mode: 0o644 });
  writeFileSync(b.resolvConf, files.resolvConf, { mode: 0o644 });
}

/** A running container's /etc/hosts larger than this (the container can write it) is left alone. */
const MAX_HOSTS_BYTES = 1 << 20;

/** Rewrite the bundle's /etc/hosts in place (it is bind-mounted into a running container); false if unchanged or too large. */
export async function rewriteHostsFile(b: BundlePaths, change: (text: string) => string): Promise<boolean> {
  const fh = await open(b.hosts, 'r+');
  try {
    if ((await fh.stat()).size > MAX_HOSTS_BYTES) return false;
    const before = await fh.readFile('utf8');
    const after = change(before);
    if (after === before) return false;
    await fh.truncate(0);
    await fh.write(after, 0, 'utf8');
    return true;
  } finally {
    await fh.close();
  }
}
