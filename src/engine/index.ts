/**
 * The engine: container and exec state machines, the plan (create decides, start applies),
 * persistence, events, volumes, logs, live restore. It runs containers through an
 * `OciRuntime` (src/runtime) and touches the host through an `EngineHost` (host.ts), both
 * given in its options.
 *
 * @example
 * const engine = new Engine({ dataRoot, runtime: new RuncRuntime(paths), host: hostSystem(), images, events, log, defaults, seccomp });
 * await engine.init();
 */
export { Engine, type EngineOptions, type CreateRequest, type WaitCondition, type WaitResult, type ContainerLogs, type ContainerPaths, type StopOptions, type ExecCreate } from './engine.js';
export { UPDATE_RESOURCE_FIELDS, type ContainerUpdate } from './lifecycle.js';
export { statContainerPath, archiveContainerPath, extractIntoContainer, goFileMode, type ContainerPathStat, type ExtractIntoOptions } from './archive.js';
export type { EngineImages, SeccompExplainerHooks } from './core.js';
export { hostSystem, type EngineHost, type RootfsHost, type BindHost, type CgroupHost, type ProcessHost, type HostDevice } from './host.js';
export { readBlkioSupport, type LimitCounters } from './limits.js';
export { LOOPBACK_ONLY, type ContainerNetworking, type CreateNetworkFacts, type NetworkFacts } from './networking.js';
export type { BindSource } from './binds.js';
export { mergeConfigEnv } from './util.js';
export { EventBus, type EngineEvent } from './events.js';
export { AttachSession, type AttachSink } from './attach.js';
export { streamLogs, followLogs, findTailStart, selectEntries, parseLogText, type LogEntry, type LogQuery, type LogSink } from './logs.js';
export { parseDaemonLogConfig, effectiveLogConfig, parseHumanSize, LOG_DRIVERS, DEFAULT_LOG_MAX_SIZE, DEFAULT_LOG_MAX_FILE, DEFAULT_DAEMON_LOG_CONFIG, type DaemonLogConfig, type LogDriver } from './log-config.js';
export { parseSignal } from './signals.js';
export { SeccompPolicy, parseDaemonSeccompProfile, type ContainerSeccomp, type DenialExplainer, type DaemonSeccompDefault, type SeccompAssessment } from './seccomp-policy.js';
export type { JoinKind } from './join-facts.js';
export { type DaemonDefaults } from './plan.js';
export { parsePsOutput } from './top.js';
export type * from './types.js';
export type { StatsSnapshot as StatsSample, DockerStats } from '../cgroups/index.js';
export { VolumeStore, volumeView, type VolumeRecord, type VolumeView } from './volumes.js';
