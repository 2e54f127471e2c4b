/**
 * The engine: container and exec state machines, persistence, events, live restore.
 *
 * @example
 * const engine = new Engine({ ... }); await engine.init();
 */
export { Engine, type EngineOptions, type CreateRequest, type WaitCondition, type WaitResult } from './engine.js';
export { mergeEnv } from './util.js';
export { EventBus, type EngineEvent } from './events.js';
export { AttachSession, type AttachSink } from './attach.js';
export { readLogFile, followLogFile, selectEntries, parseLogText, type LogEntry, type LogQuery } from './logs.js';
export { parseSignal } from './signals.js';
export { SeccompPolicy, parseDaemonSeccompProfile, type ContainerSeccomp, type DenialExplainer, type DaemonSeccompDefault } from './seccomp-policy.js';
export { ENFORCED_HOST_FIELDS, type DaemonDefaults } from './plan.js';
export type * from './types.js';
export { VolumeStore, volumeView, type VolumeRecord, type VolumeView } from './volumes.js';
