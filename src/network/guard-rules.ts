// The few iptables rules moat owns, beside netavark's, and why (docs/networking.md §3):
//
// 1. raw PREROUTING: drop packets that arrive on the bridge for 127.0.0.0/8. netavark 1.4
//    sets route_localnet=1 on a bridge with published ports (for the 127.0.0.1 DNAT), which
//    otherwise lets a container with CAP_NET_RAW reach the host's loopback-only services
//    (CVE-2020-8558's pattern; measured on this machine).
// 2. mangle FORWARD: into the bridge only replies, related packets and published ports
//    (DNAT): containers on other networks, and other hosts, cannot open connections to this
//    network's containers. netavark 1.4's own `isolate` option is dropped by the first
//    teardown of any isolated network (measured), so moat does not use it.
// 3. mangle FORWARD (icc off): nothing the host routes from the bridge back into it, but
//    published ports (DNAT). Isolated bridge ports stop frames between containers, yet a
//    container with NET_ADMIN can route a peer's address via the gateway and the host
//    forwarded those packets into the peer (measured: 10 of 10 SYNs arrived).
// 4. mangle INPUT (DNS networks): queries to this network's aardvark-dns address only from
//    its own bridge. aardvark-dns 1.4 answers a container of network B asking network A's
//    address with A's names (measured).
//
// Each rule names only its own bridge and carries `moat:<tag>:<network id>` as a comment, so
// adding and removing one network's rules never touches another's (or another moat's, or
// podman's), and a restart can find rules whose network is gone. mangle and raw come before
// filter and nat, and netavark never writes them, so netavark cannot reorder them. Pure.
import type { NetworkRecord } from './types.js';

export type IptablesTable = 'raw' | 'mangle';

export interface GuardRule {
  readonly table: IptablesTable;
  readonly chain: string;
  /** The rule body after `-A CHAIN`, as argv words. */
  readonly spec: readonly string[];
}

/** The comment that marks moat's rules for one network of one moat instance. */
export function guardComment(tag: string, networkId: string): string {
  return `moat:${tag}:${networkId.slice(0, 12)}`;
}

/** The rules for one network. */
export function guardRules(n: NetworkRecord, tag: string): GuardRule[] {
  const comment = ['-m', 'comment', '--comment', guardComment(tag, n.id)];
  const rules: GuardRule[] = [
    { table: 'raw', chain: 'PREROUTING', spec: ['-i', n.bridge, '-d', '127.0.0.0/8', ...comment, '-j', 'DROP'] },
    {
      table: 'mangle',
      chain: 'FORWARD',
      spec: ['-o', n.bridge, '!', '-i', n.bridge, '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT', ...comment, '-j', 'DROP'],
    },
  ];
  if (!n.icc) {
    rules.push({
      table: 'mangle',
      chain: 'FORWARD',
      spec: ['-i', n.bridge, '-o', n.bridge, '-m', 'conntrack', '!', '--ctstate', 'DNAT', ...comment, '-j', 'DROP'],
    });
  }
  if (n.dns) {
    for (const s of n.subnets) {
      for (const proto of ['udp', 'tcp']) {
        rules.push({
          table: 'mangle',
          chain: 'INPUT',
          spec: ['-d', `${s.gateway}/32`, '!', '-i', n.bridge, '-p', proto, '-m', proto, '--dport', '53', ...comment, '-j', 'DROP'],
        });
      }
    }
  }
  return rules;
}

/** A rule as `iptables-save -t TABLE` printed it, ready to delete. */
export interface SavedRule {
  readonly table: IptablesTable;
  readonly chain: string;
  readonly spec: readonly string[];
  readonly comment: string;
}

/** Split an iptables-save line into words, honouring double quotes (comments may be quoted). */
export function splitSaveLine(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quoted = false;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && quoted && i + 1 < line.length) {
      cur += line[++i]!;
    } else if (ch === '"') {
      quoted = !quoted;
      has = true;
    } else if (ch === ' ' && !quoted) {
      if (has || cur !== '') words.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
    }
  }
  if (has || cur !== '') words.push(cur);
  return words;
}

/** Every rule of one moat instance (`moat:<tag>:`) in `iptables-save -t TABLE` output. */
export function findGuardRules(saveOutput: string, o: { table: IptablesTable; tag: string }): SavedRule[] {
  const { table, tag } = o;
  const out: SavedRule[] = [];
  const prefix = `moat:${tag}:`;
  for (const line of saveOutput.split('\n')) {
    if (!line.startsWith('-A ')) continue;
    const words = splitSaveLine(line);
    const at = words.indexOf('--comment');
    const comment = at >= 0 ? words[at + 1] : undefined;
    if (comment === undefined || !comment.startsWith(prefix)) continue;
    out.push({ table, chain: words[1]!, spec: words.slice(2), comment });
  }
  return out;
}
