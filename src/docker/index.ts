/**
 * Docker's requests, read once: the strict JSON reader, the canonical request that plugins,
 * the policy, the router and the handler all see, Docker's field types (the structure table
 * for the strict reader, the zod schemas with Go's value rules), the create reader with the
 * one table of what moat does with each field, and the one parser of mount specs (Binds,
 * Mounts, `--mount`, Tmpfs, volume names). A leaf: imports only base/; used by authz, api,
 * spec, engine and cli alike.
 *
 * @example
 * import { canonicalizeRequest, readContainerCreate, parseMountRequests } from '../docker/index.js';
 * const c = canonicalizeRequest({ method: 'POST', rawUrl: '/v1.47/containers/create', headers, body, maxBody: DEFAULT_MAX_BODY });
 * const { config, hostConfig } = readContainerCreate(c.body);
 * const mounts = parseMountRequests(hostConfig);
 */

// The canonical request
export {
  canonicalizeRequest,
  canonicalizeTarget,
  resolveBindSources,
  hostPathsOf,
  isStreamBodyRoute,
  headerValue,
  canonicalSecurityOpt,
  DEFAULT_MAX_BODY,
  type CanonicalRequest,
  type RawRequest,
  type HeaderMap,
} from './canonical.js';
export { JsonSyntaxError, parseJsonTree, serializeTree, toValue, getMember, type JsonNode, type JsonValue } from './json-strict.js';
export { bodyKindFor, foldKey, type BodyKind, type FieldType, type Schema } from './fields.js';
export { cleanAbsolutePath, cleanPath, isPathWithin, parentPath } from './paths.js';

// Docker's types and the readers of request bodies
export {
  containerConfigShape,
  hostConfigSchema,
  mountSchema,
  createBodySchema,
  execConfigSchema,
  execStartSchema,
  volumeCreateSchema,
  readRequest,
  createBodyRoot,
  issuesText,
  fieldName,
  type CreateBody,
  type DockerHostConfig,
  type ExecConfig,
  type RequestIssue,
  type Read,
} from './types.js';
export type { ContainerConfig, HostConfig, MountSpec, DeviceMapping, Ulimit, EndpointConfig, NetworkingConfig } from './container.js';
export { readContainerCreate, checkRestartPolicy, createFieldNames, CREATE_FIELDS, LINKS_ONLY_ON_BRIDGES, type ContainerCreate, type FieldRule } from './create.js';
export { checkLabelSizes, MAX_LABEL_BYTES, MAX_LABELS_TOTAL_BYTES } from './labels.js';
export { cgroupParentPath, cgroupParentLevels, MAX_CGROUP_PARENT_LENGTH, MAX_CGROUP_PARENT_DEPTH } from './cgroup-parent.js';

// The one parser of mount specs
export {
  parseMountRequests,
  parseBind,
  parseVolumesFrom,
  parseMount,
  parseTmpfs,
  parseMountFlag,
  withBindSource,
  bindHostPath,
  mountHostPath,
  bindSourcesOf,
  mergeTmpfsOptions,
  tmpfsOptionsFromApi,
  checkVolumeName,
  ramInBytes,
  DEFAULT_PROPAGATION,
  type MountRequest,
  type ApiMount,
  type HostMounts,
  type Propagation,
} from './mounts.js';
