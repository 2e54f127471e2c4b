// The engine's networking seam (engine/networking.ts) implemented with the netavark driver
// (src/network): a container record becomes the driver's request (networks in order, ports,
// `--dns`), and the driver's endpoint becomes the facts the /etc files need. Containers with
// `--network none|host|container:X` never reach the driver.
import { errorText, invalid, type Logger } from '../base/index.js';
import type { ContainerNetworking, ContainerRecord, CreateNetworkFacts, EventBus, NetworkFacts } from '../engine/index.js';
import { parseExtraHosts, planPortRequests, type NetworkDriver, type NetworkRequest, type PortRequest } from '../network/index.js';

/**
 * The networks a record asks for, in order (NetworkMode's first); undefined: no driver (none,
 * host, container:X, or only the default bridge while moatd runs without one).
 */
export function networkRequests(rec: ContainerRecord, o: { defaultBridge: boolean }): NetworkRequest[] | undefined {
  const mode = rec.HostConfig.NetworkMode ?? '';
  if (mode === 'none' || mode === 'host' || mode.startsWith('container:') || rec.Config.NetworkDisabled === true) return undefined;
  const primary = mode === '' || mode === 'default' ? 'bridge' : mode;
  const eps = rec.NetworkingConfig?.EndpointsConfig ?? {};
  const names = [primary, ...Object.keys(eps).filter((n) => n !== primary && !(primary === 'bridge' && n === 'default'))];
  // Without a default bridge (`--bridge none`) a container asking for it gets loopback only,
  // as with dockerd; the other networks it names still come.
  const wanted = o.defaultBridge ? names : names.filter((n) => n !== 'bridge' && n !== 'default');
  if (wanted.length === 0) return undefined;
  return wanted.map((name, i) => {
    const e = eps[name] ?? (name === 'bridge' ? eps['default'] : undefined);
    const ip = e?.IPAMConfig?.IPv4Address;
    const mac = e?.MacAddress || (i === 0 ? rec.Config.MacAddress : undefined);
    return {
      network: name,
      ...(e?.Aliases ? { aliases: e.Aliases } : {}),
      ...(ip ? { ipv4Address: ip } : {}),
      ...(mac ? { macAddress: mac } : {}),
    };
  });
}

/** The container's published ports, checked (a bad binding is a 400 naming the field). */
export function portRequests(rec: ContainerRecord, defaultHostIp: string): PortRequest[] {
  return planPortRequests({
    exposedPorts: rec.Config.ExposedPorts ?? null,
    portBindings: rec.HostConfig.PortBindings ?? null,
    publishAllPorts: rec.HostConfig.PublishAllPorts === true,
    defaultHostIp,
  });
}

/**
 * @example
 * const networking = new NetavarkNetworking(driver, '127.0.0.1', log);
 * new Engine({ ..., networking });
 */
export class NetavarkNetworking implements ContainerNetworking {
  readonly #driver: NetworkDriver;
  readonly #defaultHostIp: string;
  readonly #log: Logger;
  readonly #events: EventBus | undefined;

  constructor(driver: NetworkDriver, defaultHostIp: string, log: Logger, events?: EventBus) {
    this.#driver = driver;
    this.#defaultHostIp = defaultHostIp;
    this.#log = log;
    this.#events = events;
  }

  /** Docker's `network connect` / `disconnect` events, one per network of the container. */
  #emit(action: 'connect' | 'disconnect', containerId: string, networkIds: readonly string[]): void {
    for (const id of networkIds) {
      const n = this.#driver.listNetworks().find((x) => x.id === id);
      if (n !== undefined) this.#events?.emit('network', action, n.id, { container: containerId, name: n.name, type: n.driver });
    }
  }

  /** Whether moatd has a default bridge (no `--bridge none`, or containers kept the old one). */
  #hasDefaultBridge(): boolean {
    return this.#driver.defaultBridge() !== undefined;
  }

  validate(rec: ContainerRecord): CreateNetworkFacts {
    const networks = networkRequests(rec, { defaultBridge: this.#hasDefaultBridge() });
    const ports = portRequests(rec, this.#defaultHostIp);
    const warnings: string[] = [];
    const mode = rec.HostConfig.NetworkMode ?? '';
    if (networks === undefined && ports.length > 0 && mode !== 'host') {
      // Docker discards published ports with host networking and refuses them with none /
      // container:X; on a default bridge that is not there (dockerd --bridge=none) it takes
      // them and publishes nothing: moat says so.
      if (mode === 'none' || mode.startsWith('container:') || rec.Config.NetworkDisabled === true) throw invalid('conflicting options: port publishing and the container type network mode');
      warnings.push('Published ports are discarded: moatd runs without a default bridge (--bridge none), so the container has no network to publish them from');
    }
    if (networks !== undefined) this.#driver.validate({ containerName: rec.Name.slice(1), networks, ports, dns: rec.HostConfig.Dns ?? [] });
    const hostGateway = this.#driver.hostGatewayIp();
    // Checked now, before create makes anything: `host-gateway` has no address without a default bridge.
    if (hostGateway === undefined) parseExtraHosts(rec.HostConfig.ExtraHosts, undefined);
    return { ...(hostGateway !== undefined ? { hostGateway } : {}), warnings };
  }

  async prepare(rec: ContainerRecord, o: { ownNamespace: boolean }): Promise<NetworkFacts | undefined> {
    const networks = networkRequests(rec, { defaultBridge: this.#hasDefaultBridge() });
    if (networks === undefined) return undefined;
    const hostGateway = this.#driver.hostGatewayIp();
    const { endpoint, warnings, netnsPath } = await this.#driver.prepare({
      containerId: rec.Id,
      containerName: rec.Name.slice(1),
      networks,
      ports: portRequests(rec, this.#defaultHostIp),
      dns: rec.HostConfig.Dns ?? [],
      ownNetns: o.ownNamespace,
    });
    for (const w of warnings) this.#log.warn({ containerId: rec.Id, warning: w }, 'network');
    const first = endpoint.attachments[0]!;
    const firstNet = this.#driver.getNetwork(first.networkId);
    return {
      ip: first.ip,
      ...(hostGateway !== undefined ? { hostGateway } : {}),
      ...(firstNet.dns ? { networkDns: first.gateway } : {}),
      ...(netnsPath !== undefined ? { netnsPath } : {}),
    };
  }

  async attach(rec: ContainerRecord, pid: number | undefined): Promise<void> {
    if (this.#driver.endpoint(rec.Id) === undefined) return;
    const e = await this.#driver.attach(rec.Id, pid === undefined ? { prepared: true } : { pid });
    this.#emit('connect', rec.Id, e.attachments.map((a) => a.networkId));
  }

  defaultBridgeAddress(id: string): string | undefined {
    const bridge = this.#driver.defaultBridge();
    return bridge === undefined ? undefined : this.#attachedAddress(id, bridge.id);
  }

  addressOn(id: string, network: string): string | undefined {
    let networkId: string;
    try {
      networkId = this.#driver.getNetwork(network).id;
    } catch {
      return undefined;
    }
    return this.#attachedAddress(id, networkId);
  }

  #attachedAddress(id: string, networkId: string): string | undefined {
    return this.#driver.endpoint(id)?.attachments.find((a) => a.networkId === networkId)?.ip;
  }

  defaultBridge(): { icc: boolean } | undefined {
    const bridge = this.#driver.defaultBridge();
    return bridge === undefined ? undefined : { icc: bridge.icc };
  }

  async release(id: string): Promise<void> {
    const networks = this.#driver.endpoint(id)?.attachments.map((a) => a.networkId) ?? [];
    await this.#driver.release(id);
    this.#emit('disconnect', id, networks);
  }

  async restore(running: ReadonlySet<string>): Promise<void> {
    const report = await this.#driver.restore(running);
    const { kept, torndown, orphanNetns, orphanRules, idleBridges, problems } = report;
    this.#log.info({ kept: kept.length, torndown: torndown.length, orphanNetns: orphanNetns.length, orphanRules, idleBridges }, 'networks restored');
    for (const p of problems) this.#log.warn({ problem: p }, 'network restore');
  }

  async close(): Promise<void> {
    await this.#driver.close().catch((err: unknown) => this.#log.warn({ err: errorText(err) }, 'closing the network driver'));
  }
}
