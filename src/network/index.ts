/**
 * Networking: bridge networks through netavark 1.4 and aardvark-dns 1.4, moat's own IPAM,
 * published ports held by moat, Docker's views. `NetworkDriver` is what the engine calls
 * (docs/networking.md §1); the rest is pure and unit-tested.
 *
 * @example
 * const net = await NetworkDriver.open({ dataRoot, execRoot, log, defaultHostIp: '127.0.0.1',
 *   defaultBridge: { name: 'moat0', icc: false } });
 * await net.restore(new Set(runningIds));
 * const ports = planPortRequests({ portBindings: hc.PortBindings, exposedPorts: cfg.ExposedPorts,
 *   publishAllPorts: hc.PublishAllPorts, defaultHostIp: '127.0.0.1' });
 * await net.prepare({ containerId, containerName, networks: [{ network: 'bridge' }], ports, dns: [] });
 * // runc create -> pid
 * await net.attach(containerId, { pid });
 * // container exits
 * await net.release(containerId);
 */
export {
  NetworkDriver,
  type NetworkDriverOptions,
  type DefaultBridgeOptions,
  type NetworkRequest,
  type ContainerNetworkRequest,
  type Prepared,
  type NetnsSource,
  type ReconcileReport,
} from './driver.js';
export type { NetworkRecord, EndpointRecord, AttachmentRecord, BuiltinNetwork } from './types.js';
export {
  parsePortSpec,
  parsePortKey,
  planPortRequests,
  portsView,
  portListView,
  exposedPortKeys,
  type PortRequest,
  type PortMapping,
  type PortBindingWire,
  type PortInput,
  type PortProtocol,
} from './ports.js';
export {
  DEFAULT_ADDRESS_POOLS,
  parseAddressPool,
  chooseSubnet,
  planSubnet,
  planDefaultBridge,
  allocateAddress,
  checkStaticAddress,
  type AddressPool,
  type SubnetPlan,
  type IpamConfigRequest,
  type SubnetRecord,
} from './ipam.js';
export {
  buildHostsFile,
  buildResolvConf,
  parseResolvConf,
  parseExtraHosts,
  checkDnsServers,
  type HostRecord,
  type ResolvConf,
} from './etc-files.js';
export {
  checkNetworkCreate,
  networkView,
  filterNetworks,
  isBuiltin,
  builtinNetworkView,
  findNetwork,
  noSuchNetwork,
  networkInUse,
  endpointSettingsView,
  networkSettingsView,
  defaultBridgeOptions,
  PREDEFINED_NETWORKS,
  type NetworkCreate,
  type DockerNetwork,
  type AttachedContainer,
} from './views.js';
export { buildNetavarkOptions, parseNetavarkStatus, parseMac, checkAlias, type NetavarkOptions } from './netavark-config.js';
export { guardRules, findGuardRules, type GuardRule } from './guard-rules.js';
export { reservePorts, type PortReservation } from './port-reservations.js';
export { Netavark, DEBIAN_NETAVARK_PATHS } from './netavark.js';
