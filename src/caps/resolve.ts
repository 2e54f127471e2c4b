// The container's capability set from HostConfig.CapAdd/CapDrop/Privileged, with moby's
// precedence (`oci/caps/utils.go` TweakCapabilities), restricted to the daemon's own
// bounding set: moat's "all capabilities" means every capability this daemon can grant
// (moby master does the same; v20.10 asked for all 38 and runc failed on hosts like ours,
// whose root bounding set lacks CAP_SYS_RESOURCE).

import { invalid } from '../base/index.js';
import { ALL_CAPS, CAPABILITIES, normalizeCapName, type CapName, type CapOrAll } from './names.js';

export interface ResolveCapabilitiesOptions {
  /** HostConfig.CapAdd as sent (any spelling; `ALL` allowed). */
  capAdd?: readonly string[] | null | undefined;
  /** HostConfig.CapDrop as sent (any spelling; `ALL` allowed). */
  capDrop?: readonly string[] | null | undefined;
  /** HostConfig.Privileged: every capability of `bounding`, CapAdd/CapDrop ignored. */
  privileged?: boolean | undefined;
  /** The daemon's default set (MOAT_DEFAULT_CAPS unless `--default-capabilities`). */
  defaults: readonly CapName[];
  /** The daemon's own bounding set (CapBnd of moatd); defaults to every known capability. */
  bounding?: readonly CapName[] | undefined;
}

/**
 * Resolves the container's capabilities, sorted by bit number, de-duplicated:
 *
 * 1. `privileged` → all of `bounding`;
 * 2. `ALL` in CapAdd → `bounding` minus CapDrop (a literal `ALL` in CapDrop removes
 *    nothing, so add ALL + drop ALL = all);
 * 3. `ALL` in CapDrop → exactly CapAdd;
 * 4. otherwise (defaults minus CapDrop) plus CapAdd, so add wins over drop for the same cap.
 *
 * Names are validated first, as dockerd does at create (`invalid CapAdd: unknown capability:
 * "CAP_FOO"`). An explicit CapAdd entry outside `bounding` is a 400 with moby master's
 * wording; a CapDrop entry outside it is harmless and accepted; defaults outside it are
 * left out (runc could not grant them).
 */
export function resolveCapabilities(options: ResolveCapabilitiesOptions): CapName[] {
  const add = (options.capAdd ?? []).map((s) => normalizeCapName(s, { field: 'CapAdd' }));
  const drop = (options.capDrop ?? []).map((s) => normalizeCapName(s, { field: 'CapDrop' }));
  const bounding = new Set<CapName>(options.bounding ?? ALL_CAPS);
  for (const c of add) {
    if (c !== 'ALL' && !bounding.has(c)) {
      throw invalid(
        `invalid CapAdd: capability not supported by your kernel or not available in the current environment: ${JSON.stringify(c)}`,
      );
    }
  }
  const addCaps = add.filter((c): c is CapName => c !== 'ALL');
  const dropSet = new Set<CapOrAll>(drop);
  let caps: CapName[];
  if (options.privileged === true) {
    caps = [...bounding];
  } else if (add.includes('ALL')) {
    caps = [...bounding].filter((c) => !dropSet.has(c));
  } else if (dropSet.has('ALL')) {
    caps = addCaps;
  } else {
    caps = [...options.defaults.filter((c) => !dropSet.has(c)), ...addCaps];
  }
  return sortCaps(caps.filter((c) => bounding.has(c)));
}

/** De-duplicates and sorts capabilities by bit number. */
export function sortCaps(caps: Iterable<CapName>): CapName[] {
  return [...new Set(caps)].sort((a, b) => CAPABILITIES[a] - CAPABILITIES[b]);
}

/** OCI `process.capabilities` (runtime-spec config.md, keys verbatim). */
export interface OciCapabilities {
  bounding: CapName[];
  effective: CapName[];
  permitted: CapName[];
  inheritable?: CapName[];
  ambient?: CapName[];
}

/**
 * The OCI `process.capabilities` for a resolved set. A root process gets bounding,
 * effective and permitted; inheritable and ambient stay unset (cleared since Docker
 * 20.10.14 for CVE-2022-24769). A non-root `--user` gets the set as bounding only, with
 * empty effective and permitted, which is what Docker's containers show (CapPrm = CapEff =
 * 0, CapBnd = the set): such a process gains capabilities only through file capabilities
 * or setuid binaries, up to the bounding set. No ambient capabilities, ever.
 */
export function ociCapabilities(caps: readonly CapName[], options: { user: 'root' | 'nonroot' }): OciCapabilities {
  const set = sortCaps(caps);
  if (options.user === 'root') return { bounding: set, effective: [...set], permitted: [...set] };
  return { bounding: set, effective: [], permitted: [] };
}
