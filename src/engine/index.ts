/**
 * The engine: container and exec state machines, persistence, events, live restore.
 *
 * @example
 * const engine = new Engine({ ... }); await engine.init();
 */
export { Engine, type EngineOptions, type CreateRequest, type WaitCondition, type WaitResult, type ContainerLogs } from './engine.js';
export { mergeEnv } from './util.js';
export { EventBus, type EngineEvent } from './events.js';
export { AttachSession, type AttachSink } from './attach.js';
export { streamLogs, followLogs, findTailStart, selectEntries, parseLogText, type LogEntry, type LogQuery, type LogSink } from './logs.js';
export { parseDaemonLogConfig, effectiveLogConfig, parseHumanSize, LOG_DRIVERS, DEFAULT_LOG_MAX_SIZE, DEFAULT_LOG_MAX_FILE, DEFAULT_DAEMON_LOG_CONFIG, type DaemonLogConfig, type LogDriver } from './log-config.js';
export { parseSignal } from './signals.js';
export { SeccompPolicy, parseDaemonSeccompProfile, type ContainerSeccomp, type DenialExplainer, type DaemonSeccompDefault, type SeccompAssessment } from './seccomp-policy.js';
export type { JoinKind } from './join-facts.js';
export { ENFORCED_HOST_FIELDS, type DaemonDefaults } from './plan.js';
export type * from './types.js';
export { VolumeStore, volumeView, type VolumeRecord, type VolumeView } from './volumes.js';
