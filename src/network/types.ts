// The records moat keeps for networks and for each container's attachments. Plain JSON,
// written atomically under `<data-root>/network/`; the store checks them at load.
import type { SubnetRecord } from './ipam.js';
import type { PortMapping } from './ports.js';

/** A network, as stored in `<data-root>/network/networks/<id>.json`. */
export interface NetworkRecord {
  /** 64 hex characters, as Docker's. Also the name netavark and aardvark-dns see. */
  id: string;
  /** The Docker name (`bridge` for the default network). */
  name: string;
  driver: 'bridge';
  /** Host bridge interface. */
  bridge: string;
  /** RFC 3339, as Docker shows `Created`. */
  created: string;
  subnets: SubnetRecord[];
  /** No route out, no NAT, no published ports (Docker's `--internal`). */
  internal: boolean;
  attachable: boolean;
  /** aardvark-dns serves names on this network (user networks; not the default bridge, as Docker). */
  dns: boolean;
  /** Containers on this bridge may talk to each other (false: bridge ports isolated). */
  icc: boolean;
  /** The predefined default `bridge` network: cannot be removed. */
  predefined: boolean;
  labels: Record<string, string>;
  /** The Docker options as given (`com.docker.network.bridge.name`, ...). */
  options: Record<string, string>;
}

/**
 * Docker's `host` and `none` pseudo-networks (drivers `host` and `null`): listed, inspected
 * and refused for rm/connect as Docker's, never set up by netavark. Their ids are random
 * once and then kept in `<data-root>/network/builtin.json`, so they stay stable.
 */
export interface BuiltinNetwork {
  id: string;
  name: 'host' | 'none';
  driver: 'host' | 'null';
  created: string;
}

/** One network a container is attached to. */
export interface AttachmentRecord {
  networkId: string;
  /** Interface name in the container (eth0, eth1, ...). */
  interfaceName: string;
  /** IPv4 address. */
  ip: string;
  prefixLen: number;
  gateway: string;
  /** As netavark reported it (or as requested). */
  mac: string;
  /** Network-scoped DNS names besides the container name (aliases, short id). */
  aliases: string[];
  /** The address asked for (`--ip`), kept so a restart asks again. */
  requestedIp?: string;
  endpointId: string;
  /** Exactly the JSON given to `netavark setup`, given again to `teardown`. */
  netavarkConfig: unknown;
  /** Ports were published through this attachment (the first non-internal network). */
  publishes: boolean;
}

/**
 * A container's network state, `<data-root>/network/endpoints/<containerId>.json`.
 * Written before anything is set up (phase `setting-up`) so a crash at any point leaves a
 * record a restart can tear down; removed only after teardown finished.
 */
export interface EndpointRecord {
  containerId: string;
  containerName: string;
  /** Name under /run/netns (`ip netns`), or undefined before the namespace was attached. */
  netnsName?: string;
  phase: 'setting-up' | 'up' | 'tearing-down';
  attachments: AttachmentRecord[];
  ports: PortMapping[];
  /** `--dns` servers, used by aardvark-dns as this container's upstream. */
  dnsServers: string[];
}
