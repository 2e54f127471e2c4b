/**
 * Container plan -> OCI runtime spec, and the pure pieces that decide the plan.
 *
 * @example
 * const spec = generateSpec(plan);
 */
export { generateSpec, baseMounts, execProcessSpec, type RunPlan, type NamespaceMode, type ExecProcessBase } from './generate.js';
export { resolveUser, type ResolvedUser } from './user.js';
/**
 * The plan and config.json moatd makes for a process with an empty HostConfig and default
 * daemon settings, for bundles run with runc directly (`moat seccomp record`, test probes).
 *
 * @example
 * const spec = standaloneSpec({ rootfs: 'rootfs', args: ['/probe'], capabilities: MOAT_DEFAULT_CAPS, cgroupsPath: 'moat-test/abc' });
 */
export { standaloneRunPlan, standaloneSpec, DEFAULT_PIDS_LIMIT, DEFAULT_SHM_SIZE, DEFAULT_PATH_ENV, type StandaloneRun } from './standalone.js';
export type * from './types.js';
export {
  DOCKER_MASKED_PATHS,
  MOAT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  systemPaths,
  DEFAULT_DEVICE_NODES,
  DEFAULT_DEVICE_RULES,
  ALLOW_ALL_DEVICES,
  parseDevice,
  checkDeviceMapping,
  parseDeviceCgroupRule,
  deviceCgroupRules,
  IPC_SYSCTLS,
  validateSysctl,
  validateSysctls,
  defaultSysctls,
  ULIMIT_TYPES,
  parseUlimit,
  ulimitsToRlimits,
  RLIM_INFINITY,
  toOciJson,
  parseSecurityOpts,
  type DeviceMapping,
  type ResolvedDevice,
  type Ulimit,
  type OciRlimit,
  type SecurityOpts,
  type SeccompChoice,
  type SystemPaths,
} from './security.js';
export { bindToOciMount, tmpfsToOciMount, TMPFS_DEFAULT_OPTIONS } from './mounts.js';
export {
  planResources,
  effectivePidsLimit,
  parseCpusetList,
  blockIOFor,
  blockDevicePaths,
  blkioSupportFrom,
  MIN_MEMORY,
  NANO_CPU_PERIOD,
  type HostResources,
  type ResourceOptions,
  type PlannedResources,
  type BlockDeviceLimits,
  type BlkioSupport,
  type ThrottleEntry,
} from './resources.js';
