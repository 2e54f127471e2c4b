// The engine's networking seam (engine/networking.ts) implemented with the netavark driver
// (src/network): a container record becomes the driver's request (networks in order, ports,
// `--dns`), and the driver's endpoint becomes the facts the /etc files need. Containers with
// `--network none|host|container:X` never reach the driver.
import { errorText, invalid, type Logger } from '../base/index.js';
import type { ContainerNetworking, ContainerRecord, EventBus, NetworkFacts } from '../engine/index.js';
import { planPortRequests, type NetworkDriver, type NetworkRequest, type PortRequest } from '../network/index.js';

/** The networks a record asks for, in order (NetworkMode's first); undefined: no driver (none, host, container:X). */
export function networkRequests(rec: ContainerRecord): NetworkRequest[] | undefined {
  const mode = rec.HostConfig.NetworkMode ?? '';
  if (mode === 'none' || mode === 'host' || mode.startsWith('container:') || rec.Config.NetworkDisabled === true) return undefined;
  const primary = mode === '' || mode === 'default' ? 'bridge' : mode;
  const eps = rec.NetworkingConfig?.EndpointsConfig ?? {};
  const names = [primary, ...Object.keys(eps).filter((n) => n !== primary && !(primary === 'bridge' && n === 'default'))];
  return names.map((name, i) => {
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

  validate(rec: ContainerRecord): NetworkFacts {
    const networks = networkRequests(rec);
    const ports = portRequests(rec, this.#defaultHostIp);
    // Docker discards published ports with host networking and refuses them with none / container:X.
    if (networks === undefined && ports.length > 0 && rec.HostConfig.NetworkMode !== 'host') throw invalid('conflicting options: port publishing and the container type network mode');
    if (networks !== undefined) this.#driver.validate({ containerName: rec.Name.slice(1), networks, ports, dns: rec.HostConfig.Dns ?? [] });
    return { hostGateway: this.#driver.hostGatewayIp() };
  }

  async prepare(rec: ContainerRecord, o: { ownNamespace: boolean }): Promise<NetworkFacts | undefined> {
    const networks = networkRequests(rec);
    if (networks === undefined) return undefined;
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
      hostGateway: this.#driver.hostGatewayIp(),
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
    return this.#driver.endpoint(id)?.attachments.find((a) => a.networkId === bridge.id)?.ip;
  }

  defaultBridgeIcc(): boolean {
    return this.#driver.defaultBridge().icc;
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
