/**
 * Capabilities: the one name table, the default sets, CapAdd/CapDrop resolution and the
 * OCI `process.capabilities` section. Pure.
 *
 * @example
 * import { MOAT_DEFAULT_CAPS, resolveCapabilities, ociCapabilities } from '../caps/index.js';
 * const caps = resolveCapabilities({ defaults: MOAT_DEFAULT_CAPS, capAdd: ['NET_ADMIN'] });
 * spec.process.capabilities = ociCapabilities(caps, { user: 'root' });
 */

/**
 * Every capability the kernel knows, name → bit number (CAP_CHOWN = 0 … CAP_CHECKPOINT_RESTORE = 40).
 *
 * @example
 * CAPABILITIES.CAP_NET_RAW; // 13
 */
export { CAPABILITIES } from './names.js';
/**
 * All capability names in bit order.
 *
 * @example
 * ALL_CAPS.length; // 41
 */
export { ALL_CAPS } from './names.js';
/**
 * Docker's 14 default capabilities (mask 0xa80425fb).
 *
 * @example
 * capMask(DOCKER_DEFAULT_CAPS) === 0xa80425fbn; // true
 */
export { DOCKER_DEFAULT_CAPS } from './names.js';
/**
 * moat's 11 default capabilities: Docker's minus NET_RAW, MKNOD, AUDIT_WRITE (mask 0x800405fb).
 *
 * @example
 * resolveCapabilities({ defaults: MOAT_DEFAULT_CAPS });
 */
export { MOAT_DEFAULT_CAPS } from './names.js';
/**
 * Normalises a CapAdd/CapDrop entry (any case, optional `CAP_`, `ALL`); unknown → 400.
 *
 * @example
 * normalizeCapName('sys_admin'); // 'CAP_SYS_ADMIN'
 * normalizeCapName('foo', { field: 'CapAdd' }); // throws 'invalid CapAdd: unknown capability: "CAP_FOO"'
 */
export { normalizeCapName } from './names.js';
/**
 * True when a string is a capability name spelled as in the table.
 *
 * @example
 * isCapName('CAP_KILL'); // true
 */
export { isCapName } from './names.js';
/**
 * Bit mask of a capability list.
 *
 * @example
 * capMask(['CAP_NET_BIND_SERVICE']); // 0x400n
 */
export { capMask } from './names.js';
/**
 * Capabilities in a mask (bigint or /proc/self/status hex such as `00000000a80425fb`).
 *
 * @example
 * capsFromMask('0000000000000400'); // ['CAP_NET_BIND_SERVICE']
 */
export { capsFromMask } from './names.js';
/**
 * The container's capabilities with moby's TweakCapabilities precedence, within the daemon's bounding set.
 *
 * @example
 * resolveCapabilities({ defaults: MOAT_DEFAULT_CAPS, capDrop: ['ALL'], capAdd: ['NET_BIND_SERVICE'] });
 * // ['CAP_NET_BIND_SERVICE']
 */
export { resolveCapabilities } from './resolve.js';
/**
 * De-duplicates and sorts capabilities by bit number.
 *
 * @example
 * sortCaps(['CAP_KILL', 'CAP_CHOWN', 'CAP_KILL']); // ['CAP_CHOWN', 'CAP_KILL']
 */
export { sortCaps } from './resolve.js';
/**
 * OCI `process.capabilities` for root (bounding/effective/permitted) or a non-root user (bounding only).
 *
 * @example
 * ociCapabilities(['CAP_CHOWN'], { user: 'nonroot' }); // { bounding: ['CAP_CHOWN'], effective: [], permitted: [] }
 */
export { ociCapabilities } from './resolve.js';
export type { CapName, CapOrAll } from './names.js';
export type { OciCapabilities, ResolveCapabilitiesOptions } from './resolve.js';
