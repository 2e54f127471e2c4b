// NetworkDriver: the one object the engine calls for networking. It owns the network and
// endpoint records, IPAM, host-port holders, moat's guard rules, and runs netavark for each
// container's namespace. Host. The calling order and the crash story are in
// docs/networking.md §1.
import { randomBytes, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CleanupStack, EngineError, compareText, PhaseTimer, errorText, invalid, newId, shortId, type Logger } from '../base/index.js';
import { buildHostsFile, buildResolvConf, checkDnsServers, parseExtraHosts, parseResolvConf } from './etc-files.js';
import { applyGuardRules, containerRulesLeft, deleteSavedRule, listGuardRules, netavarkNetworkHash, removeEmptyChain, removeGuardRules } from './firewall.js';
import {
  addIdlePort,
  addNetns,
  attachNetns,
  deleteLink,
  deleteNetns,
  findLink,
  hostPrefixes,
  isBridgePort,
  isolateBridgePorts,
  waitUdpBound,
  listLinks,
  listNetns,
  netnsPath,
} from './host-links.js';
import { cidrsOverlap, formatIpv4, tryParseCidr, tryParseIpv4, type Cidr } from './ip.js';
import {
  DEFAULT_ADDRESS_POOLS,
  allocateAddress,
  checkStaticAddress,
  noAddressLeft,
  planDefaultBridge,
  planSubnet,
  subnetFromRecord,
  subnetToRecord,
  type AddressPool,
} from './ipam.js';
import { Netavark, DEBIAN_NETAVARK_PATHS } from './netavark.js';
import { buildNetavarkOptions, checkAlias, parseMac, type NetavarkOptions } from './netavark-config.js';
import { reholdPorts, reservePorts, type PortReservation } from './port-reservations.js';
import type { PortRequest } from './ports.js';
import { NetworkStore, type LoadProblem } from './store.js';
import type { AttachmentRecord, BuiltinNetwork, EndpointRecord, NetworkRecord } from './types.js';
import { findNetwork, networkInUse, noSuchNetwork, type AttachedContainer, type NetworkCreate } from './views.js';

export interface DefaultBridgeOptions {
  /** Host interface of the default bridge (dockerd `--bridge`); moat's default `moat0`. */
  name: string;
  /** dockerd `--bip`. */
  bip?: string;
  /** dockerd `--fixed-cidr`. */
  fixedCidr?: string;
  /** dockerd `--icc`; moat's default false. */
  icc: boolean;
  /** dockerd `--mtu`. */
  mtu?: number;
}

export interface NetworkDriverOptions {
  dataRoot: string;
  execRoot: string;
  log: Logger;
  /** null: no default bridge (dockerd `--bridge none`); default-mode containers get loopback only. */
  defaultBridge: DefaultBridgeOptions | null;
  /** dockerd `--default-address-pool` (empty: dockerd's pools). */
  pools?: readonly AddressPool[];
  /** dockerd `--ip`: where published ports bind when no address is named (moat: 127.0.0.1). */
  defaultHostIp: string;
  netavark?: string;
  aardvark?: string;
  /** The host's resolv.conf (default /etc/resolv.conf). */
  hostResolvConf?: string;
}

/** One network a container asks for, in order; the first gets eth0, publishes ports, gives the default route. */
export interface NetworkRequest {
  /** Network name, id or id prefix; `bridge` for the default bridge. */
  network: string;
  aliases?: readonly string[];
  /** `--ip` / `IPAMConfig.IPv4Address`. */
  ipv4Address?: string;
  /** `--mac-address` / `MacAddress`. */
  macAddress?: string;
}

export interface ContainerNetworkRequest {
  containerId: string;
  containerName: string;
  networks: readonly NetworkRequest[];
  /** From `planPortRequests`. */
  ports: readonly PortRequest[];
  /** `--dns`: the container's upstream (aardvark-dns) or its nameservers (default bridge). */
  dns: readonly string[];
  /**
   * Make the container's network namespace at prepare (moat's name under /run/netns), for
   * runc to join by path while `attach({ prepared: true })` sets it up.
   */
  ownNetns?: boolean;
}

export interface Prepared {
  readonly endpoint: EndpointRecord;
  readonly warnings: readonly string[];
  /** The namespace made for the container (with `ownNetns`). */
  readonly netnsPath?: string;
}

/** Where the container's namespace comes from at attach. */
export type NetnsSource =
  /** The container's init process (after `runc create`): moat names its namespace. */
  | { readonly pid: number }
  /** The namespace `prepare` made (`ownNetns`); runc may be creating the container in it. */
  | { readonly prepared: true }
  /** A namespace that exists under /run/netns already and that moat does not own (tests). */
  | { readonly existing: string };

export interface ReconcileReport {
  /** Containers whose networking was kept (still running). */
  kept: string[];
  /** Containers whose networking was torn down. */
  torndown: string[];
  /** Named namespaces of this moat removed although no record named them. */
  orphanNetns: string[];
  /** Guard rules removed because their network is gone. */
  orphanRules: number;
  /** Bridges of known networks removed because nothing was attached. */
  idleBridges: string[];
  problems: string[];
  loadProblems: LoadProblem[];
}

/** A simple FIFO lock: one networking operation at a time (IPAM, netavark, iptables). */
class Mutex {
  #tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.#tail;
    let done!: () => void;
    this.#tail = new Promise<void>((r) => (done = r));
    await prev;
    try {
      return await fn();
    } finally {
      done();
    }
  }
}

export class NetworkDriver {
  readonly #o: NetworkDriverOptions;
  readonly #store: NetworkStore;
  readonly #netavark: Netavark;
  readonly #log: Logger;
  readonly #lock = new Mutex();
  /** Instance tag: names this moat's namespaces and rules apart from other moats' (and tests'). */
  readonly tag: string;
  #networks = new Map<string, NetworkRecord>();
  #endpoints = new Map<string, EndpointRecord>();
  #ports = new Map<string, PortReservation>();
  #cursor = new Map<string, number>();
  #loadProblems: LoadProblem[] = [];
  #builtins: BuiltinNetwork[] = [];

  private constructor(o: NetworkDriverOptions) {
    this.#o = o;
    this.#log = o.log.child({ component: 'network' });
    this.#store = new NetworkStore(join(o.dataRoot, 'network'));
    this.#netavark = new Netavark({
      netavark: o.netavark ?? DEBIAN_NETAVARK_PATHS.netavark,
      aardvark: o.aardvark ?? DEBIAN_NETAVARK_PATHS.aardvark,
      configDir: join(o.execRoot, 'network'),
    });
    this.tag = createHash('sha256').update(o.dataRoot).digest('hex').slice(0, 8);
  }

  /**
   * Load the records and make sure the default bridge network exists (or, with none asked
   * for, that it is gone). Call `restore` next, before containers start.
   */
  static async open(o: NetworkDriverOptions): Promise<NetworkDriver> {
    const d = new NetworkDriver(o);
    await d.#store.init();
    // netavark makes `<config>/aardvark-dns` but not its parent.
    await mkdir(join(o.execRoot, 'network'), { recursive: true, mode: 0o700 });
    const loaded = await d.#store.load();
    d.#loadProblems = loaded.problems;
    for (const p of loaded.problems) d.#log.warn({ file: p.file, problem: p.message }, 'network record ignored');
    for (const n of loaded.networks) d.#networks.set(n.id, n);
    for (const e of loaded.endpoints) d.#endpoints.set(e.containerId, e);
    await d.#ensureDefaultBridge();
    await d.#ensureBuiltins();
    return d;
  }

  /** `host` and `none` keep the ids they were given first (Docker makes new ones per daemon; a stable id is friendlier). */
  async #ensureBuiltins(): Promise<void> {
    const saved = await this.#store.loadBuiltins();
    const pick = (name: 'host' | 'none', driver: 'host' | 'null'): BuiltinNetwork =>
      saved?.find((b) => b.name === name && b.driver === driver) ?? { id: newId(), name, driver, created: new Date().toISOString() };
    const list = [pick('host', 'host'), pick('none', 'null')];
    if (saved === undefined || list.some((b) => !saved.includes(b))) await this.#store.saveBuiltins(list);
    this.#builtins = list;
  }

  /** Docker's `host` and `none` pseudo-networks. */
  builtinNetworks(): BuiltinNetwork[] {
    return [...this.#builtins];
  }

  /** A bridge network or a pseudo-network by id, name or unique id prefix (across both); throws 404. */
  findAnyNetwork(ref: string): NetworkRecord | BuiltinNetwork {
    const n = findNetwork<NetworkRecord | BuiltinNetwork>([...this.#builtins, ...this.listNetworks()], ref);
    if (n === undefined) throw noSuchNetwork(ref);
    return n;
  }

  get netavark(): Netavark {
    return this.#netavark;
  }

  /** The namespace name moat gives a container (`ip netns exec NAME …` works for debugging). */
  netnsNameFor(containerId: string): string {
    return `moat-${this.tag}-${containerId.slice(0, 12)}`;
  }

  listNetworks(): NetworkRecord[] {
    return [...this.#networks.values()].sort((a, b) => compareText(a.created, b.created) || compareText(a.name, b.name));
  }

  /** By id, name or unique id prefix; throws 404 `network X not found`. */
  getNetwork(ref: string): NetworkRecord {
    const n = findNetwork(this.listNetworks(), ref);
    if (n === undefined) throw noSuchNetwork(ref);
    return n;
  }

  /** The default bridge network; undefined under `--bridge none`. */
  defaultBridge(): NetworkRecord | undefined {
    return this.listNetworks().find((x) => x.predefined);
  }

  /** The address `--add-host NAME:host-gateway` stands for: the default bridge's gateway, as Docker's; undefined without one. */
  hostGatewayIp(): string | undefined {
    return this.defaultBridge()?.subnets[0]!.gateway;
  }

  endpoint(containerId: string): EndpointRecord | undefined {
    return this.#endpoints.get(containerId);
  }

  /** Containers attached to a network (for inspect's `Containers` and for rm). */
  attachedTo(networkId: string): AttachedContainer[] {
    const out: AttachedContainer[] = [];
    for (const e of this.#endpoints.values()) {
      for (const a of e.attachments) if (a.networkId === networkId) out.push({ containerId: e.containerId, containerName: e.containerName, attachment: a });
    }
    return out;
  }

  async #ensureDefaultBridge(): Promise<void> {
    const b = this.#o.defaultBridge;
    const existing = [...this.#networks.values()].find((n) => n.predefined);
    const inUse = existing !== undefined && this.attachedTo(existing.id).length > 0;
    // Containers still on it keep it, whatever the flags say now (dockerd too keeps the old
    // network config while containers it restored use it).
    if (existing !== undefined && inUse) {
      if (b === null) this.#log.warn({ bridge: existing.bridge }, 'the default bridge stays while containers use it: restart moatd once they are gone to remove it');
      return;
    }
    if (b === null) {
      if (existing !== undefined) await this.#dropDefaultBridge(existing);
      return;
    }
    const others = [...this.#networks.values()].filter((n) => !n.predefined);
    const taken = [...others.flatMap((n) => n.subnets.map((s) => tryParseCidr(s.subnet)!)), ...(await this.#hostPrefixesExceptOurs())];
    const plan = planDefaultBridge({
      ...(b.bip !== undefined ? { bip: b.bip } : {}),
      ...(b.fixedCidr !== undefined ? { fixedCidr: b.fixedCidr } : {}),
      pools: this.#o.pools ?? DEFAULT_ADDRESS_POOLS,
      taken,
    });
    const rec: NetworkRecord = {
      id: existing?.id ?? newId(),
      name: 'bridge',
      driver: 'bridge',
      bridge: b.name,
      created: existing?.created ?? new Date().toISOString(),
      subnets: [subnetToRecord(plan)],
      internal: false,
      attachable: false,
      dns: false,
      icc: b.icc,
      predefined: true,
      labels: {},
      options: b.mtu !== undefined ? { 'com.docker.network.driver.mtu': String(b.mtu) } : {},
    };
    if (existing !== undefined && JSON.stringify({ ...existing, created: '' }) === JSON.stringify({ ...rec, created: '' })) return;
    if (existing !== undefined) await removeGuardRules(existing, this.tag);
    await this.#store.saveNetwork(rec);
    this.#networks.set(rec.id, rec);
  }

  /**
   * `--bridge none` after a daemon that had a default bridge: its guard rules, the bridge
   * (with netavark's chains, and the idle port) and then its record go, in that order, so a
   * crash part way leaves a record the next start finishes with.
   */
  async #dropDefaultBridge(n: NetworkRecord): Promise<void> {
    await removeGuardRules(n, this.tag);
    const complaints = await this.#releaseBridge(n);
    if (complaints.length > 0) this.#log.debug({ network: n.id, complaints }, 'netavark on the stand-in container');
    await this.#store.deleteNetwork(n.id);
    this.#networks.delete(n.id);
    this.#log.info({ bridge: n.bridge }, 'default bridge removed (--bridge none)');
  }

  /** The host's routes and addresses, without those of bridges moat's records own. */
  async #hostPrefixesExceptOurs(): Promise<Cidr[]> {
    const ours = [...this.#networks.values()].flatMap((n) => n.subnets.map((s) => tryParseCidr(s.subnet)!));
    return (await hostPrefixes()).filter((c) => !ours.some((o) => o.base === c.base && o.bits === c.bits));
  }

  /** `POST /networks/create`: a record, then moat's guard rules. The bridge appears with its first container. */
  async createNetwork(req: NetworkCreate): Promise<NetworkRecord> {
    return await this.#lock.run(async () => {
      if ([...this.#networks.values()].some((n) => n.name === req.name)) {
        throw new EngineError('conflict', 'ERR_NETWORK_EXISTS', `network with name ${req.name} already exists`);
      }
      const id = newId();
      const bridge = req.bridgeName ?? `moatbr-${id.slice(0, 8)}`;
      if ([...this.#networks.values()].some((n) => n.bridge === bridge) || (await findLink(bridge)) !== undefined) {
        // netavark would adopt any existing bridge and delete it with its last container.
        throw new EngineError('conflict', 'ERR_NETWORK_BRIDGE_IN_USE', `bridge name ${bridge} is already in use on this host`);
      }
      const others = [...this.#networks.values()].flatMap((n) => n.subnets.map((s) => tryParseCidr(s.subnet)!));
      const taken = [...others, ...(await this.#hostPrefixesExceptOurs())];
      const plan = planSubnet(req.ipam ?? {}, { pools: this.#o.pools ?? DEFAULT_ADDRESS_POOLS, taken });
      // A named subnet may not overlap another network or a host route either: the bridge's
      // route would take the other's traffic.
      if (taken.some((t) => cidrsOverlap(t, plan.subnet))) {
        throw new EngineError('forbidden', 'ERR_NETWORK_OVERLAP', 'Pool overlaps with other one on this address space');
      }
      const rec: NetworkRecord = {
        id,
        name: req.name,
        driver: 'bridge',
        bridge,
        created: new Date().toISOString(),
        subnets: [subnetToRecord(plan)],
        internal: req.internal,
        attachable: req.attachable,
        dns: true,
        icc: req.icc,
        predefined: false,
        labels: req.labels,
        options: req.options,
      };
      await this.#store.saveNetwork(rec);
      this.#networks.set(id, rec);
      try {
        await applyGuardRules(rec, this.tag);
      } catch (err) {
        await removeGuardRules(rec, this.tag).catch(() => undefined);
        await this.#store.deleteNetwork(id);
        this.#networks.delete(id);
        throw new EngineError('internal', 'ERR_NETWORK_FIREWALL', `Cannot create network ${req.name}: ${errorText(err)}`, { cause: err });
      }
      return rec;
    });
  }

  /** `DELETE /networks/{id}`: refused while containers are attached or for the default bridge. */
  async removeNetwork(ref: string): Promise<NetworkRecord> {
    return await this.#lock.run(async () => {
      const n = this.getNetwork(ref);
      if (n.predefined) throw new EngineError('forbidden', 'ERR_NETWORK_PREDEFINED', `${n.name} is a pre-defined network and cannot be removed`);
      const attached = this.attachedTo(n.id);
      if (attached.length > 0) throw networkInUse(n, attached);
      await removeGuardRules(n, this.tag);
      const link = await findLink(n.bridge);
      if (link !== undefined && link.kind === 'bridge' && (await listLinks()).every((l) => l.master !== n.bridge)) await deleteLink(n.bridge);
      await this.#store.deleteNetwork(n.id);
      this.#networks.delete(n.id);
      this.#cursor.delete(n.id);
      return n;
    });
  }

  #usedAddresses(networkId: string, except?: string): Set<number> {
    const used = new Set<number>();
    for (const e of this.#endpoints.values()) {
      if (e.containerId === except) continue;
      for (const a of e.attachments) if (a.networkId === networkId) used.add(tryParseIpv4(a.ip)!);
    }
    return used;
  }

  #planAttachment(c: { containerId: string; containerName: string }, req: NetworkRequest, index: number, used: Set<number>, publishes: boolean): AttachmentRecord {
    const n = this.getNetwork(req.network);
    const plan = subnetFromRecord(n.subnets[0]!);
    let ip: number;
    if (req.ipv4Address !== undefined && req.ipv4Address !== '') {
      ip = checkStaticAddress(plan, { address: req.ipv4Address, used });
    } else {
      const got = allocateAddress(plan, { used, cursor: this.#cursor.get(n.id) });
      if (got === undefined) throw noAddressLeft(n.name);
      ip = got;
      this.#cursor.set(n.id, got);
    }
    used.add(ip);
    const aliases = n.dns ? [...new Set([...(req.aliases ?? []).map(checkAlias), shortId(c.containerId)])] : [];
    return {
      networkId: n.id,
      interfaceName: `eth${index}`,
      ip: formatIpv4(ip),
      prefixLen: plan.subnet.bits,
      gateway: formatIpv4(plan.gateway),
      mac: req.macAddress !== undefined && req.macAddress !== '' ? parseMac(req.macAddress) : '',
      aliases,
      ...(req.ipv4Address !== undefined && req.ipv4Address !== '' ? { requestedIp: req.ipv4Address } : {}),
      endpointId: randomBytes(32).toString('hex'),
      netavarkConfig: null,
      publishes,
    };
  }

  #netavarkOptions(e: EndpointRecord, a: AttachmentRecord): NetavarkOptions {
    return buildNetavarkOptions({
      containerId: e.containerId,
      containerName: e.containerName,
      network: this.#networks.get(a.networkId)!,
      interfaceName: a.interfaceName,
      ip: a.ip,
      aliases: a.aliases,
      ...(a.mac !== '' ? { mac: a.mac } : {}),
      ports: a.publishes ? e.ports : [],
      dnsServers: e.dnsServers,
    });
  }

  /**
   * At container create: everything that can be checked without allocating (the networks
   * exist, aliases, static addresses lie in a user subnet, MAC, `--dns`), so a bad request
   * is a 400/404 at create rather than at start. Addresses and ports are taken at `prepare`.
   */
  validate(req: Omit<ContainerNetworkRequest, 'containerId'>): void {
    checkDnsServers(req.dns);
    checkAlias(req.containerName);
    const seen = new Set<string>();
    for (const r of req.networks) {
      const n = this.getNetwork(r.network);
      if (seen.has(n.id)) throw new EngineError('conflict', 'ERR_NETWORK_ENDPOINT_EXISTS', `container cannot be connected to network ${n.name} twice`);
      seen.add(n.id);
      if (!n.dns && (r.aliases ?? []).length > 0) throw invalid('network-scoped aliases are only supported for user-defined networks');
      for (const alias of r.aliases ?? []) checkAlias(alias);
      if (r.ipv4Address !== undefined && r.ipv4Address !== '') checkStaticAddress(subnetFromRecord(n.subnets[0]!), { address: r.ipv4Address, used: new Set() });
      if (r.macAddress !== undefined && r.macAddress !== '') parseMac(r.macAddress);
    }
  }

  /**
   * Before `runc create`: check the networks, allocate addresses, bind the published host
   * ports, and write the endpoint record (phase `setting-up`); with `ownNetns`, make the
   * namespace the record names. The addresses are known from here on, so the engine can
   * write /etc/hosts before the container exists. Nothing is left behind on failure.
   */
  async prepare(req: ContainerNetworkRequest): Promise<Prepared> {
    return await this.#lock.run(async () => {
      if (this.#endpoints.has(req.containerId)) throw new EngineError('conflict', 'ERR_NETWORK_ENDPOINT_EXISTS', `container ${shortId(req.containerId)} has networking already`);
      if (req.networks.length === 0) throw invalid('a container needs at least one network to attach to');
      const warnings: string[] = [];
      const dns = checkDnsServers(req.dns);
      const seen = new Set<string>();
      const attachments: AttachmentRecord[] = [];
      const publishIndex = req.networks.findIndex((r) => !this.getNetwork(r.network).internal);
      if (req.ports.length > 0 && publishIndex < 0) warnings.push('published ports are ignored: the container is only on internal networks');
      req.networks.forEach((r, i) => {
        const n = this.getNetwork(r.network);
        if (seen.has(n.id)) throw new EngineError('conflict', 'ERR_NETWORK_ENDPOINT_EXISTS', `container cannot be connected to network ${n.name} twice`);
        seen.add(n.id);
        if (!n.dns && (r.aliases ?? []).length > 0) throw invalid('network-scoped aliases are only supported for user-defined networks');
        attachments.push(this.#planAttachment(req, r, i, this.#usedAddresses(n.id), i === publishIndex && req.ports.length > 0));
      });
      const reservation = publishIndex >= 0 && req.ports.length > 0 ? await reservePorts(req.ports) : await reservePorts([]);
      const endpoint: EndpointRecord = {
        containerId: req.containerId,
        containerName: req.containerName,
        phase: 'setting-up',
        attachments,
        ports: [...reservation.mappings],
        dnsServers: dns,
        // Recorded before the namespace exists: after a crash, restore deletes it with the record.
        ...(req.ownNetns === true ? { netnsName: this.netnsNameFor(req.containerId) } : {}),
      };
      const undo = new CleanupStack();
      undo.defer(() => reservation.release());
      try {
        await this.#store.saveEndpoint(endpoint);
        undo.defer(() => this.#store.deleteEndpoint(req.containerId));
        if (endpoint.netnsName !== undefined) {
          undo.defer(() => deleteNetns(endpoint.netnsName!));
          // One of this name that no record names is a cleanup that failed: it goes first.
          await deleteNetns(endpoint.netnsName);
          await addNetns(endpoint.netnsName);
        }
      } catch (err) {
        const failures = await undo.unwind();
        if (failures.length > 0) this.#log.warn({ containerId: req.containerId, failures: failures.map(errorText) }, 'cleanup after failed network prepare');
        throw err;
      }
      this.#endpoints.set(req.containerId, endpoint);
      this.#ports.set(req.containerId, reservation);
      return { endpoint, warnings, ...(endpoint.netnsName !== undefined ? { netnsPath: netnsPath(endpoint.netnsName) } : {}) };
    });
  }

  /**
   * Before `runc start`: set up each network (netavark) in the namespace prepare made
   * (`prepared`, while runc creates the container in it) or in the created container's own
   * (`pid`, named here), then isolate its bridge port when the network has icc off. On
   * failure everything prepared is torn down (the namespace too) and the error thrown.
   */
  async attach(containerId: string, source: NetnsSource): Promise<EndpointRecord> {
    return await this.#lock.run(async () => {
      const e = this.#endpoints.get(containerId);
      if (e === undefined || e.phase !== 'setting-up') throw new EngineError('conflict', 'ERR_NETWORK_ENDPOINT_STATE', `container ${shortId(containerId)} has no prepared networking`);
      const phases = new PhaseTimer();
      try {
        const name = 'pid' in source ? this.netnsNameFor(containerId) : 'existing' in source ? source.existing : e.netnsName;
        if (name === undefined) throw new EngineError('internal', 'ERR_NETWORK_ENDPOINT_STATE', `container ${shortId(containerId)} has no network namespace`);
        e.netnsName = name;
        // One record before anything changes on the host: the namespace name and every
        // netavark config, so a crash at any later point leaves what teardown needs.
        for (const a of e.attachments) a.netavarkConfig = this.#netavarkOptions(e, a);
        await this.#store.saveEndpoint(e);
        phases.mark('record');
        if ('pid' in source) await attachNetns(name, source.pid);
        phases.mark('netns');
        for (const a of e.attachments) await this.#setupAttachment(e, a, false, phases);
        e.phase = 'up';
        await this.#store.saveEndpoint(e);
        phases.mark('record');
        this.#log.debug({ containerId, phases: phases.done() }, 'network attached');
        return e;
      } catch (err) {
        const failures = await this.#teardownLocked(e);
        if (failures.length > 0) this.#log.warn({ containerId, failures: failures.map(errorText) }, 'cleanup after failed network setup');
        throw err;
      }
    });
  }

  async #setupAttachment(e: EndpointRecord, a: AttachmentRecord, persist: boolean, phases = new PhaseTimer()): Promise<void> {
    const n = this.#networks.get(a.networkId)!;
    const options = this.#netavarkOptions(e, a);
    a.netavarkConfig = options;
    // Recorded before netavark runs: a crash during setup leaves what teardown needs.
    if (persist) await this.#store.saveEndpoint(e);
    const status = await this.#netavark.setup(netnsPath(e.netnsName!), options);
    phases.mark('netavark');
    const iface = status.interfaces[a.interfaceName];
    if (iface !== undefined) a.mac = iface.mac;
    if (n.predefined) await this.#holdDefaultBridge(n);
    phases.mark('anchor');
    // The container's process has not run yet (`runc start` waits for attach), so its new
    // port is isolated before it can send anything.
    if (!n.icc) await isolateBridgePorts(n.bridge);
    phases.mark('isolate');
    if (n.dns) await this.#waitForDns([n]);
    phases.mark('dns');
  }

  /** The idle port that keeps the default bridge (and netavark's chains for it) while moatd runs. */
  get anchorName(): string {
    return `mta-${this.tag}`;
  }

  /**
   * Give the default bridge moat's idle port (netavark made the bridge by now), so the exit
   * of its last container does not make netavark delete the bridge and its chains only for
   * the next start to make them again (~180 ms of iptables at exit, more at start; docs/
   * networking.md §7). Nothing records it: its name says whose it is, `close`/`removeAll`
   * remove it, and a restart after a crash adopts it. A failure costs time only.
   */
  async #holdDefaultBridge(n: NetworkRecord): Promise<void> {
    if (isBridgePort(n.bridge, this.anchorName)) return;
    try {
      if ((await findLink(this.anchorName)) !== undefined) await deleteLink(this.anchorName);
      await addIdlePort(this.anchorName, n.bridge);
    } catch (err) {
      this.#log.warn({ bridge: n.bridge, err: errorText(err) }, 'cannot hold the default bridge: it goes with its last container');
    }
  }

  /**
   * Remove the idle port and, when no container is attached, the bridge with netavark's
   * chains for it: netavark tears down a stand-in container, the bridge's last port.
   */
  async #releaseBridge(n: NetworkRecord): Promise<string[]> {
    if (n.predefined && (await findLink(this.anchorName)) !== undefined) await deleteLink(this.anchorName);
    const link = await findLink(n.bridge);
    if (link === undefined || link.kind !== 'bridge' || this.attachedTo(n.id).length > 0 || (await listLinks()).some((l) => l.master === n.bridge)) return [];
    const stand = buildNetavarkOptions({
      containerId: createHash('sha256').update(`${this.tag}:${n.id}:stand-in`).digest('hex'),
      containerName: 'moat-stand-in',
      network: n,
      interfaceName: 'eth0',
      ip: n.subnets[0]!.gateway,
      aliases: [],
      ports: [],
      dnsServers: [],
    });
    const problems = await this.#netavark.forceTeardown(stand);
    await this.#afterLastContainer(n.id);
    if ((await findLink(n.bridge)) !== undefined) await deleteLink(n.bridge);
    return problems;
  }

  /** Wait (briefly) until aardvark-dns listens on these networks' gateways; log when it does not. */
  async #waitForDns(networks: readonly NetworkRecord[]): Promise<void> {
    const gateways = [...new Set(networks.flatMap((n) => n.subnets.map((s) => s.gateway)))];
    const missing = await waitUdpBound(gateways, 53, 2000);
    if (missing.length > 0) this.#log.warn({ gateways: missing }, 'aardvark-dns does not listen on these addresses');
  }

  /** Teardown of one attachment: netavark with the recorded options; a scratch namespace if the container's is gone. */
  async #teardownAttachment(e: EndpointRecord, a: AttachmentRecord, phases = new PhaseTimer()): Promise<void> {
    const options = a.netavarkConfig as NetavarkOptions | null;
    if (options === null) return;
    const live = e.netnsName !== undefined && (await listNetns()).includes(e.netnsName);
    let done = false;
    if (live) {
      try {
        await this.#netavark.teardown(netnsPath(e.netnsName!), options);
        done = true;
      } catch (err) {
        // A teardown interrupted after netavark deleted the interface fails here for good
        // ("failed to delete container veth"): the scratch namespace finishes the job.
        this.#log.info({ containerId: e.containerId, network: a.networkId, err: errorText(err) }, 'netavark teardown failed; forcing');
      }
    }
    if (!done) {
      const problems = await this.#netavark.forceTeardown(options);
      const left = await containerRulesLeft(e.containerId, a.ip);
      if (left.length > 0) {
        throw new EngineError('internal', 'ERR_NETWORK_TEARDOWN', `Cannot tear down ${a.interfaceName} of ${shortId(e.containerId)}: rules remain (${left.join('; ')}); netavark: ${problems.join('; ')}`);
      }
      if (problems.length > 0) this.#log.info({ containerId: e.containerId, network: a.networkId, problems }, 'forced network teardown');
    }
    phases.mark('netavark');
    await this.#afterLastContainer(a.networkId);
    phases.mark('after-last');
  }

  /** When a network's bridge went with its last container, remove the chain netavark 1.4 leaks. */
  async #afterLastContainer(networkId: string): Promise<void> {
    const n = this.#networks.get(networkId);
    // sysfs first: no `ip` process on every exit while the bridge stays (it usually does).
    if (n === undefined || existsSync(`/sys/class/net/${n.bridge}`) || (await findLink(n.bridge)) !== undefined) return;
    await removeEmptyChain('nat', `NETAVARK-DN-${netavarkNetworkHash(n.id)}`);
  }

  async #teardownLocked(e: EndpointRecord): Promise<unknown[]> {
    const failures: unknown[] = [];
    const phases = new PhaseTimer();
    e.phase = 'tearing-down';
    await this.#store.saveEndpoint(e).catch((err: unknown) => failures.push(err));
    phases.mark('record');
    for (const a of [...e.attachments].reverse()) {
      try {
        await this.#teardownAttachment(e, a, phases);
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length > 0) return failures;
    const undo = new CleanupStack();
    if (e.netnsName !== undefined && e.netnsName.startsWith(`moat-${this.tag}-`)) undo.defer(() => deleteNetns(e.netnsName!));
    undo.defer(async () => {
      await this.#ports.get(e.containerId)?.release();
      this.#ports.delete(e.containerId);
    });
    failures.push(...(await undo.unwind()));
    phases.mark('netns-ports');
    if (failures.length > 0) return failures;
    await this.#store.deleteEndpoint(e.containerId);
    this.#endpoints.delete(e.containerId);
    phases.mark('record');
    this.#log.debug({ containerId: e.containerId, phases: phases.done() }, 'network released');
    return [];
  }

  /**
   * When the container stopped or is removed (or a start failed): tear down every network,
   * remove the named namespace, close the host ports, delete the record. When a step fails
   * the record stays (phase `tearing-down`) and a later call or restart tries again.
   */
  async release(containerId: string): Promise<void> {
    await this.#lock.run(async () => {
      const e = this.#endpoints.get(containerId);
      if (e === undefined) return;
      const failures = await this.#teardownLocked(e);
      if (failures.length > 0) {
        throw new EngineError('internal', 'ERR_NETWORK_TEARDOWN', `Cannot tear down networking of ${shortId(containerId)}: ${failures.map(errorText).join('; ')}`);
      }
    });
  }

  /** `docker network connect` for a running container: one more interface. */
  async connect(containerId: string, req: NetworkRequest): Promise<AttachmentRecord> {
    return await this.#lock.run(async () => {
      const e = this.#endpoints.get(containerId);
      if (e === undefined || e.phase !== 'up') throw new EngineError('conflict', 'ERR_NETWORK_ENDPOINT_STATE', `container ${shortId(containerId)} is not running`);
      const n = this.getNetwork(req.network);
      if (e.attachments.some((a) => a.networkId === n.id)) {
        throw new EngineError('forbidden', 'ERR_NETWORK_ENDPOINT_EXISTS', `endpoint with name ${e.containerName} already exists in network ${n.name}`);
      }
      const names = new Set(e.attachments.map((a) => a.interfaceName));
      let index = 0;
      while (names.has(`eth${index}`)) index++;
      const a = this.#planAttachment(e, req, index, this.#usedAddresses(n.id), false);
      e.attachments.push(a);
      try {
        await this.#setupAttachment(e, a, true);
        await this.#store.saveEndpoint(e);
      } catch (err) {
        await this.#teardownAttachment(e, a).catch((u: unknown) => this.#log.warn({ containerId, err: errorText(u) }, 'cleanup after failed connect'));
        e.attachments = e.attachments.filter((x) => x !== a);
        await this.#store.saveEndpoint(e);
        throw err;
      }
      return a;
    });
  }

  /** `docker network disconnect`. */
  async disconnect(containerId: string, networkRef: string): Promise<void> {
    await this.#lock.run(async () => {
      const e = this.#endpoints.get(containerId);
      const n = this.getNetwork(networkRef);
      const a = e?.attachments.find((x) => x.networkId === n.id);
      if (e === undefined || a === undefined) {
        throw new EngineError('forbidden', 'ERR_NETWORK_NOT_CONNECTED', `container ${shortId(containerId)} is not connected to network ${n.name}`);
      }
      await this.#teardownAttachment(e, a);
      e.attachments = e.attachments.filter((x) => x !== a);
      await this.#store.saveEndpoint(e);
    });
  }

  /**
   * The container's /etc/hosts and /etc/resolv.conf, Docker's way, from its endpoint
   * record (`--network none`: pass no containerId).
   */
  async containerFiles(o: {
    containerId?: string;
    hostname: string;
    domainname?: string;
    extraHosts?: readonly string[];
    dns?: readonly string[];
    dnsSearch?: readonly string[];
    dnsOptions?: readonly string[];
  }): Promise<{ hosts: string; resolvConf: string }> {
    const e = o.containerId !== undefined ? this.#endpoints.get(o.containerId) : undefined;
    const first = e?.attachments[0];
    const firstNet = first !== undefined ? this.#networks.get(first.networkId) : undefined;
    const hosts = buildHostsFile({
      hostname: o.hostname,
      ...(o.domainname !== undefined ? { domainname: o.domainname } : {}),
      ...(first !== undefined ? { ip: first.ip } : {}),
      extraHosts: parseExtraHosts(o.extraHosts, this.hostGatewayIp()),
    });
    const hostText = await readFile(this.#o.hostResolvConf ?? '/etc/resolv.conf', 'utf8').catch(() => '');
    const resolvConf = buildResolvConf({
      host: parseResolvConf(hostText),
      dns: checkDnsServers(o.dns ?? []),
      dnsSearch: o.dnsSearch ?? [],
      dnsOptions: o.dnsOptions ?? [],
      ...(firstNet?.dns === true ? { networkDns: first!.gateway } : {}),
    });
    return { hosts, resolvConf };
  }

  /**
   * At daemon start, before containers start: keep the networking of containers still
   * running (`alive`), tear down the rest, re-hold published ports, re-apply guard rules,
   * remove this moat's orphans (named namespaces, rules of deleted networks, idle bridges)
   * and restart aardvark-dns if containers with DNS are up and it died.
   */
  async restore(alive: ReadonlySet<string>): Promise<ReconcileReport> {
    return await this.#lock.run(async () => {
      const report: ReconcileReport = { kept: [], torndown: [], orphanNetns: [], orphanRules: 0, idleBridges: [], problems: [], loadProblems: this.#loadProblems };
      const note = (what: string, err: unknown): void => {
        report.problems.push(`${what}: ${errorText(err)}`);
      };
      for (const n of this.#networks.values()) await applyGuardRules(n, this.tag).catch((err: unknown) => note(`guard rules of ${n.name}`, err));
      const netns = new Set(await listNetns());
      for (const e of [...this.#endpoints.values()]) {
        const keep = alive.has(e.containerId) && e.phase === 'up' && e.netnsName !== undefined && netns.has(e.netnsName);
        if (keep) {
          try {
            if (!this.#ports.has(e.containerId)) this.#ports.set(e.containerId, await reholdPorts(e.ports));
          } catch (err) {
            // The DNAT rules still deliver the traffic; another program holds the port now.
            note(`re-holding ports of ${shortId(e.containerId)}`, err);
          }
          report.kept.push(e.containerId);
          continue;
        }
        const failures = await this.#teardownLocked(e);
        if (failures.length > 0) for (const f of failures) note(`teardown of ${shortId(e.containerId)}`, f);
        else report.torndown.push(e.containerId);
      }
      const prefix = `moat-${this.tag}-`;
      const recorded = new Set([...this.#endpoints.values()].map((e) => e.netnsName));
      for (const name of await listNetns()) {
        if (!name.startsWith(prefix) || recorded.has(name)) continue;
        await deleteNetns(name).then(() => report.orphanNetns.push(name), (err: unknown) => note(`namespace ${name}`, err));
      }
      const known = new Set([...this.#networks.values()].map((n) => `moat:${this.tag}:${n.id.slice(0, 12)}`));
      for (const rule of await listGuardRules(this.tag).catch((err: unknown) => (note('listing guard rules', err), []))) {
        if (known.has(rule.comment)) continue;
        await deleteSavedRule(rule).then(() => report.orphanRules++, (err: unknown) => note(`rule ${rule.comment}`, err));
      }
      const links = await listLinks().catch(() => []);
      // The default bridge's idle port (kept across a crash) stays only on today's default bridge.
      const anchor = links.find((l) => l.ifname === this.anchorName);
      if (anchor !== undefined && anchor.master !== this.defaultBridge()?.bridge) {
        await deleteLink(this.anchorName).catch((err: unknown) => note(`idle port ${this.anchorName}`, err));
      }
      for (const n of this.#networks.values()) {
        const link = links.find((l) => l.ifname === n.bridge);
        if (link === undefined || link.kind !== 'bridge' || this.attachedTo(n.id).length > 0 || links.some((l) => l.master === n.bridge)) continue;
        await deleteLink(n.bridge).then(() => report.idleBridges.push(n.bridge), (err: unknown) => note(`bridge ${n.bridge}`, err));
      }
      const dnsNets = [...new Set([...this.#endpoints.values()].flatMap((e) => e.attachments.map((a) => this.#networks.get(a.networkId))))].filter((n): n is NetworkRecord => n?.dns === true);
      if (dnsNets.length > 0) {
        await this.#netavark.ensureAardvark().catch((err: unknown) => note('aardvark-dns', err));
        await this.#waitForDns(dnsNets);
      } else {
        await this.#netavark.dropStaleAardvarkPid().catch(() => undefined);
      }
      return report;
    });
  }

  /**
   * Undo everything this instance made on the host: every container's networking, every
   * network (the default bridge too) with its guard rules and bridge, and the records. For
   * tests on temporary roots and for an uninstall; a running daemon never calls it.
   */
  async removeAll(): Promise<string[]> {
    const problems: string[] = [];
    for (const id of [...this.#endpoints.keys()]) await this.release(id).catch((err: unknown) => problems.push(errorText(err)));
    await this.#lock.run(async () => {
      for (const n of [...this.#networks.values()]) {
        try {
          await removeGuardRules(n, this.tag);
          const complaints = await this.#releaseBridge(n);
          if (complaints.length > 0) this.#log.debug({ network: n.id, complaints }, 'netavark on the stand-in container');
          await this.#store.deleteNetwork(n.id);
          this.#networks.delete(n.id);
        } catch (err) {
          problems.push(`${n.name}: ${errorText(err)}`);
        }
      }
    });
    const aardvark = await this.#netavark.aardvarkPid();
    if (aardvark !== undefined && this.#endpoints.size === 0) process.kill(aardvark, 'SIGTERM');
    return problems;
  }

  /**
   * Daemon shutdown (containers keep running): close the port holders (restore re-holds
   * them) and let go of the default bridge: with no container on it, it goes with its chains.
   */
  async close(): Promise<void> {
    await this.#lock.run(async () => {
      for (const r of this.#ports.values()) await r.release();
      this.#ports.clear();
      // After removeAll there is no default bridge any more.
      const n = this.listNetworks().find((x) => x.predefined);
      if (n === undefined) return;
      await this.#releaseBridge(n).then(
        (complaints) => complaints.length > 0 && this.#log.debug({ network: n.id, complaints }, 'netavark on the stand-in container'),
        (err: unknown) => this.#log.warn({ bridge: n.bridge, err: errorText(err) }, 'cannot remove the idle default bridge'),
      );
    });
  }
}
