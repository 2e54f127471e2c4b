// Run netavark 1.4 `setup`/`teardown` for one network of one container, and look after
// the aardvark-dns process netavark starts. Host.
//
// Facts this module relies on (measured here, docs/networking.md §2):
// - teardown opens the container's namespace first; when the namespace is gone it fails
//   before removing any rule. moat therefore keeps a named namespace until teardown, and
//   for the case it vanished anyway (`forceTeardown`) gives netavark a scratch namespace
//   holding an interface of the recorded name, so netavark's own code removes its rules.
// - netavark signals aardvark-dns by the pid in `<config>/aardvark-dns/aardvark.pid` and
//   starts a new one when that pid is gone; a stale file whose pid was reused would make it
//   SIGHUP an unrelated process, so moat checks the pid before every call.
import { readFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { EngineError } from '../base/index.js';
import { runCommand } from './exec.js';
import { addNetns, deleteNetns, findLink, netnsPath } from './host-links.js';
import { netavarkErrorText, parseNetavarkStatus, type NetavarkOptions, type NetavarkStatus } from './netavark-config.js';

export interface NetavarkPaths {
  /** /usr/lib/podman/netavark on Debian. */
  netavark: string;
  /** /usr/lib/podman/aardvark-dns on Debian. */
  aardvark: string;
  /** netavark `--config`: aardvark-dns keeps its files in `<configDir>/aardvark-dns`. */
  configDir: string;
}

export const DEBIAN_NETAVARK_PATHS: Omit<NetavarkPaths, 'configDir'> = {
  netavark: '/usr/lib/podman/netavark',
  aardvark: '/usr/lib/podman/aardvark-dns',
};

const TIMEOUT_MS = 60_000;

function onlyNetwork(o: NetavarkOptions): string {
  const names = Object.keys(o.network_info);
  if (names.length !== 1) throw new EngineError('internal', 'ERR_NETAVARK_FAILED', `netavark options must name exactly one network, not ${names.length}`);
  return names[0]!;
}

export class Netavark {
  readonly #paths: NetavarkPaths;

  constructor(paths: NetavarkPaths) {
    this.#paths = paths;
  }

  get aardvarkDir(): string {
    return join(this.#paths.configDir, 'aardvark-dns');
  }

  #argv(command: 'setup' | 'teardown', netns: string): string[] {
    return [this.#paths.netavark, '--config', this.#paths.configDir, '--aardvark-binary', this.#paths.aardvark, command, netns];
  }

  /** Set up one network in the namespace at `netnsFile`; returns what netavark reported. */
  async setup(netnsFile: string, options: NetavarkOptions): Promise<NetavarkStatus> {
    const name = onlyNetwork(options);
    await this.dropStaleAardvarkPid();
    const r = await runCommand(this.#argv('setup', netnsFile), { input: JSON.stringify(options), timeoutMs: TIMEOUT_MS });
    if (r.code !== 0) {
      throw new EngineError('internal', 'ERR_NETAVARK_FAILED', `Cannot set up network: netavark: ${netavarkErrorText(r.stdout, r.stderr)}`);
    }
    return parseNetavarkStatus(r.stdout, name);
  }

  /** Undo `setup` with the same options; throws with netavark's message on failure. */
  async teardown(netnsFile: string, options: NetavarkOptions): Promise<void> {
    onlyNetwork(options);
    await this.dropStaleAardvarkPid();
    const r = await runCommand(this.#argv('teardown', netnsFile), { input: JSON.stringify(options), timeoutMs: TIMEOUT_MS });
    if (r.code !== 0) {
      throw new EngineError('internal', 'ERR_NETAVARK_FAILED', `Cannot tear down network: netavark: ${netavarkErrorText(r.stdout, r.stderr)}`);
    }
  }

  /**
   * Teardown when the container's namespace is gone: a scratch namespace with a veth of the
   * recorded interface name stands in (netavark deletes it), and the bridge is made again if
   * it is missing so that netavark, finding it without ports, removes it and its network
   * rules. Returns netavark's complaints (a DNS entry already gone is one); the caller checks
   * the result on the host.
   */
  async forceTeardown(options: NetavarkOptions): Promise<string[]> {
    const name = onlyNetwork(options);
    const ifname = options.networks[name]?.interface_name ?? 'eth0';
    const bridge = options.network_info[name]!.network_interface;
    const scratch = `moat-scratch-${randomBytes(6).toString('hex')}`;
    const problems: string[] = [];
    await addNetns(scratch);
    try {
      const mk = await runCommand(['ip', '-n', scratch, 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', 'moatpeer0'], { timeoutMs: 10_000 });
      if (mk.code !== 0) problems.push(`scratch interface: ${mk.stderr.trim()}`);
      if ((await findLink(bridge)) === undefined) {
        const br = await runCommand(['ip', 'link', 'add', bridge, 'type', 'bridge'], { timeoutMs: 10_000 });
        if (br.code !== 0) problems.push(`scratch bridge: ${br.stderr.trim()}`);
      }
      await this.dropStaleAardvarkPid();
      const r = await runCommand(this.#argv('teardown', netnsPath(scratch)), { input: JSON.stringify(options), timeoutMs: TIMEOUT_MS });
      if (r.code !== 0) problems.push(netavarkErrorText(r.stdout, r.stderr));
    } finally {
      await deleteNetns(scratch);
    }
    return problems;
  }

  /** The running aardvark-dns of this config dir, if any. */
  async aardvarkPid(): Promise<number | undefined> {
    let pid: number;
    try {
      pid = Number((await readFile(join(this.aardvarkDir, 'aardvark.pid'), 'utf8')).trim());
    } catch {
      return undefined;
    }
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    try {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      const state = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /, '')[0];
      if (state === 'Z') return undefined;
      return cmdline.some((a) => a.endsWith('aardvark-dns')) && cmdline.includes(this.aardvarkDir) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Remove a pid file that no longer names our aardvark-dns, so netavark starts a new one. */
  async dropStaleAardvarkPid(): Promise<boolean> {
    if ((await this.aardvarkPid()) !== undefined) return false;
    await rm(join(this.aardvarkDir, 'aardvark.pid'), { force: true });
    return true;
  }

  /**
   * Start aardvark-dns as netavark does (`aardvark-dns --config DIR -p 53 run`, which
   * forks, writes its pid and returns when it serves) unless ours is running. Used at
   * restore when containers with DNS are up but aardvark-dns died.
   */
  async ensureAardvark(): Promise<void> {
    if ((await this.aardvarkPid()) !== undefined) return;
    await this.dropStaleAardvarkPid();
    const r = await runCommand([this.#paths.aardvark, '--config', this.aardvarkDir, '-p', '53', 'run'], { timeoutMs: TIMEOUT_MS });
    if (r.code !== 0) throw new EngineError('internal', 'ERR_NETAVARK_FAILED', `Cannot start aardvark-dns: ${r.stderr.trim()}`);
  }
}
