/**
 * User-namespace remapping (`--userns-remap`): id maps and /etc/subuid, /etc/subgid.
 *
 * @example
 * import { ensureRemapRanges, toHost } from '../userns/index.js';
 * const remap = await ensureRemapRanges({ spec: 'default' });
 * if (remap.enabled) console.log(toHost(remap.uidMappings, 0)); // 100000
 */

/**
 * Parse subuid/subgid text, format and append lines, pick a free range, parse the
 * `--userns-remap` value, translate ids. All pure.
 *
 * @example
 * parseSubIdFile('dockremap:100000:65536\n')          // [{ name: 'dockremap', start: 100000, count: 65536 }]
 * formatSubIdEntry({ name: 'a', start: 1, count: 2 }) // 'a:1:2'
 * allocateRange(parseSubIdFile(text))                 // first free 65536-wide start >= 100000
 * parseRemapSpec('user:group')                        // { mode: 'user', user: 'user', group: 'group' }
 * toHost([{ containerID: 0, hostID: 100000, size: 65536 }], 33)      // 100033
 * toContainer([{ containerID: 0, hostID: 100000, size: 65536 }], 5)  // undefined
 * ociIdMappings(uidRanges, gidRanges)                 // { uidMappings, gidMappings } for the OCI spec
 */
export {
  parseSubIdFile,
  formatSubIdEntry,
  appendSubIdEntry,
  rangesFor,
  allocateRange,
  rangesOverlap,
  parseRemapSpec,
  idMapsFromRanges,
  toHost,
  toContainer,
  ociIdMappings,
  parsePasswd,
  parseGroup,
  findUser,
  findGroup,
  DEFAULT_RANGE_SIZE,
  DEFAULT_REMAP_USER,
  SUBID_MIN,
  type SubIdEntry,
  type IdMap,
  type RemapSpec,
  type PasswdEntry,
  type GroupEntry,
} from './idmap.js';

/**
 * Host side: resolve `--userns-remap` (creating `dockremap` and its ranges for `default`),
 * add a range to a subid file under the shadow-utils lock, atomic file replacement.
 *
 * @example
 * const r = await ensureRemapRanges({ spec: 'default' });
 * // r = { enabled: true, user: 'dockremap', group: 'dockremap', uidStart: 100000, gidStart: 100000,
 * //       size: 65536, uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [...] }
 * await ensureSubIdRange('/etc/subuid', { name: 'dockremap', uid: 102 });
 * await withFileLock('/etc/subgid', async () => replaceFileAtomic('/etc/subgid', text));
 */
export {
  ensureRemapRanges,
  ensureSubIdRange,
  withFileLock,
  replaceFileAtomic,
  defaultCreateUser,
  type EnsureRemapOptions,
  type RemapResult,
  type LockOptions,
} from './subid.js';
