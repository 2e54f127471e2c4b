// The networking seam: what the lifecycle asks of a container's network, at the points the
// netavark driver (src/network, docs/networking.md §7) needs: validate at create, prepare
// (address, ports, DNS, and the namespace unless under userns-remap) before the runtime
// creates the container, attach while it creates it (or after, under remap), release on exit / failed start / removal, restore at daemon start. moatd passes
// NetavarkNetworking (daemon/networking.ts); LOOPBACK_ONLY is the engine's default (fakes, tools).
import type { ContainerRecord } from './types.js';

/** What the /etc files say about the container's network (etc-files builders in src/network). */
export interface NetworkFacts {
  /** The container's address on its first network (its hostname resolves to it). */
  ip?: string;
  /** The network's DNS server (aardvark-dns), which becomes the container's nameserver. */
  networkDns?: string;
  /** What `--add-host NAME:host-gateway` stands for. */
  hostGateway?: string;
  /**
   * A network namespace prepare made for the container: runc joins it by path and attach
   * sets it up while the runtime creates the container (off the start's critical path).
   */
  netnsPath?: string;
}

/** What create learns of the network: the facts for the /etc files and Docker's warnings. */
export interface CreateNetworkFacts extends NetworkFacts {
  warnings?: readonly string[];
}

/**
 * @example
 * new Engine({ ..., networking: LOOPBACK_ONLY });
 */
export interface ContainerNetworking {
  /**
   * At create: check what the container asks of the network (a 400 names the problem), and
   * say what is known already (the gateway `host-gateway` stands for) for the /etc files.
   */
  validate(rec: ContainerRecord): CreateNetworkFacts | undefined;
  /**
   * Before the runtime creates the container: reserve its address and ports and, with
   * `ownNamespace`, make its network namespace (facts.netnsPath). Undefined: no network
   * beyond loopback (the /etc files written at create stay).
   */
  prepare(rec: ContainerRecord, o: { ownNamespace: boolean }): Promise<NetworkFacts | undefined>;
  /**
   * Set up the container's networks before its process runs: in the namespace prepare made
   * (`pid` undefined; runs while the runtime creates the container), or in the namespace of
   * the created container's init process `pid`.
   */
  attach(rec: ContainerRecord, pid: number | undefined): Promise<void>;
  /**
   * The container's address on the default bridge while it is attached there (a legacy
   * link's target); undefined otherwise.
   */
  defaultBridgeAddress(id: string): string | undefined;
  /** The container's address on the user-defined network `network` (name or id) while it is attached there. */
  addressOn(id: string, network: string): string | undefined;
  /**
   * The default bridge's settings: `icc`, whether containers on it can reach each other
   * (dockerd `--icc`); undefined when moatd runs without one (`--bridge none`).
   */
  defaultBridge(): { icc: boolean } | undefined;
  /** The container exited, its start failed, or it is being removed. Idempotent. */
  release(id: string): Promise<void>;
  /** Daemon start, before the records are reconciled: the containers still running. */
  restore(running: ReadonlySet<string>): Promise<void>;
  close(): Promise<void>;
}

/** Containers with a loopback interface only (the engine's default when no networking is given). */
export const LOOPBACK_ONLY: ContainerNetworking = {
  validate: () => undefined,
  prepare: async () => undefined,
  attach: async () => undefined,
  defaultBridgeAddress: () => undefined,
  addressOn: () => undefined,
  // Links are checked as on a default bridge with icc on (fakes and tools have no flags).
  defaultBridge: () => ({ icc: true }),
  release: async () => undefined,
  restore: async () => undefined,
  close: async () => undefined,
};
