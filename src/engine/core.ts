// What the parts of the engine share: the options (runtime, host, images, defaults), the
// container table, the stores, the log keeper, the attach hub, and each other. The Engine
// (engine.ts) builds one and hands it to lifecycle.ts, exits.ts, exec.ts and create.ts.
import { join } from 'node:path';
import { errorText, type Logger } from '../base/index.js';
import type { ImageRecord } from '../image/index.js';
import type { NotifyRule, LinuxSeccomp } from '../seccomp/index.js';
import type { OciRuntime } from '../runtime/index.js';
import { AttachHub } from './attach.js';
import { bundlePaths, type BundlePaths } from './bundle.js';
import { ContainerTable, isLiveRecord } from './containers.js';
import { DaemonCgroupParent } from './daemon-cgroup.js';
import type { EventBus } from './events.js';
import type { EngineHost } from './host.js';
import { DEFAULT_DAEMON_LOG_CONFIG, type DaemonLogConfig } from './log-config.js';
import { LogKeeper } from './log-files.js';
import type { LimitWatcher } from './limits.js';
import { LOOPBACK_ONLY, type ContainerNetworking } from './networking.js';
import { planOf, type DaemonDefaults } from './plan.js';
import type { SeccompPolicy } from './seccomp-policy.js';
import { ContainerStore } from './store.js';
import type { ContainerPlan, ContainerRecord } from './types.js';
import { VolumeStore } from './volumes.js';
import type { Lifecycle } from './lifecycle.js';
import type { Exits } from './exits.js';
import type { ExecSessions } from './exec.js';
import type { Restarts } from './restart.js';
import type { HealthMonitors } from './health.js';

/** The images the engine runs: an image by reference, and its layer dirs (lowest first). */
export interface EngineImages {
  get(ref: string): ImageRecord;
  layerDirs(image: ImageRecord): string[];
}

/** The seccomp denial explainer: rule tables before runc create, records for inspect, cleanup. */
export interface SeccompExplainerHooks {
  prepare(containerId: string, rules: readonly NotifyRule[], spec?: LinuxSeccomp): Promise<void>;
  denials(containerId: string, last: number): Promise<unknown[]>;
  remove(containerId: string): Promise<void>;
  /** The container's create is over (started or failed): the pair is no longer pinned for it. */
  settled(containerId: string): void;
}

export interface EngineOptions {
  /** `<dataRoot>/containers` holds the bundles and records, `<dataRoot>/volumes` the volumes. */
  dataRoot: string;
  /** conmon + runc (RuncRuntime), or a fake in tests. */
  runtime: OciRuntime;
  /** Mounts, files in rootfs, devices, cgroups, processes (hostSystem()), or fakes in tests. */
  host: EngineHost;
  images: EngineImages;
  events: EventBus;
  log: Logger;
  defaults: DaemonDefaults;
  seccomp: SeccompPolicy;
  /** `--log-driver` / `--log-opt`; default json-file with moat's cap. */
  logConfig?: DaemonLogConfig;
  /**
   * Asked at every create with the reference as given and the image it resolved to: throws
   * (403) when the image trust policy refuses to run it.
   */
  imageGate?: (ref: string, image: ImageRecord) => void;
  seccompExplainer?: SeccompExplainerHooks;
  /** The containers' networks; default LOOPBACK_ONLY (a loopback interface only). */
  networking?: ContainerNetworking;
  /** How long the daemon's cgroup parent outlives the last live container (daemon-cgroup.ts); default 5 s. */
  cgroupParentIdleMs?: number;
}

export class EngineCore {
  readonly o: EngineOptions;
  readonly log: Logger;
  readonly events: EventBus;
  readonly runtime: OciRuntime;
  readonly host: EngineHost;
  readonly networking: ContainerNetworking;
  readonly store: ContainerStore;
  readonly table: ContainerTable;
  readonly volumes: VolumeStore;
  readonly logKeeper: LogKeeper;
  readonly attach = new AttachHub();
  limits: LimitWatcher | undefined;
  /** The daemon's cgroup parent, removed an idle period after its last live container. */
  readonly daemonCgroup: DaemonCgroupParent;
  // The parts, set once by the Engine (they call each other).
  lifecycle!: Lifecycle;
  exits!: Exits;
  execs!: ExecSessions;
  restarts!: Restarts;
  health!: HealthMonitors;

  constructor(o: EngineOptions) {
    this.o = o;
    this.log = o.log.child({ component: 'engine' });
    this.events = o.events;
    this.runtime = o.runtime;
    this.host = o.host;
    this.networking = o.networking ?? LOOPBACK_ONLY;
    this.store = new ContainerStore(join(o.dataRoot, 'containers'));
    this.table = new ContainerTable((rec, durable) => this.store.save(rec, { durable }));
    this.volumes = new VolumeStore(o.dataRoot);
    this.logKeeper = new LogKeeper(o.log);
    this.daemonCgroup = new DaemonCgroupParent(
      {
        remove: () => this.host.cgroups.removeParents([o.defaults.cgroupParent]).catch((err: unknown) => this.log.warn({ err: errorText(err) }, 'cannot remove the daemon\'s cgroup parent')),
        idle: () => !this.table.list().some((c) => isLiveRecord(c)),
      },
      o.cgroupParentIdleMs,
    );
  }

  get logConfig(): DaemonLogConfig {
    return this.o.logConfig ?? DEFAULT_DAEMON_LOG_CONFIG;
  }

  bundle(id: string): BundlePaths {
    return bundlePaths(this.store.dir(id));
  }

  plan(c: ContainerRecord): ContainerPlan {
    return planOf(c, this.o.defaults);
  }

  /** Undo a container's bind staging mounts; a failure is logged (removal never enters a mount). */
  async unstage(id: string): Promise<void> {
    await this.host.binds.unstage(this.store.dir(id)).catch((err: unknown) => this.log.warn({ containerId: id, err: errorText(err) }, 'cannot undo bind staging mounts'));
  }

  /** A log callback for promises nobody awaits. */
  failed(what: string, id: string): (err: unknown) => void {
    return (err) => this.log.error({ containerId: id, err: errorText(err) }, what);
  }
}
