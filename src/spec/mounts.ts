// Requested mounts (docker/mounts.ts reads them from HostConfig) → OCI mounts, as Docker
// writes them. Pure: volume creation, bind staging and the host side are the engine's job.
import { invalid } from '../base/index.js';
import { mergeTmpfsOptions, DEFAULT_PROPAGATION, type MountRequest } from '../docker/index.js';
import type { Mount as OciMount } from './types.js';

// --- to OCI ------------------------------------------------------------------------------

/**
 * A bind or volume request → OCI bind mount, as Docker writes it: `rbind`, `ro` when
 * read-only, then the propagation (rprivate by default). For a volume, pass the volume's
 * host directory as `source`; for a bind, `source` overrides the request's (e.g. after the
 * lead resolved symlinks).
 */
export function bindToOciMount(m: MountRequest, options: { source?: string } = {}): OciMount {
  if (m.kind === 'tmpfs') return tmpfsToOciMount(m);
  const source = options.source ?? m.source;
  if (!source.startsWith('/')) throw invalid(`Cannot mount ${m.kind} ${JSON.stringify(m.source)} on ${m.target}: no host path`);
  const opts = ['rbind'];
  if (m.readOnly) opts.push('ro');
  opts.push(m.propagation);
  return { destination: m.target, type: 'bind', source, options: opts };
}

/** Docker's defaults for a tmpfs mount before the user's options. */
export const TMPFS_DEFAULT_OPTIONS: readonly string[] = Object.freeze(['noexec', 'nosuid', 'nodev', DEFAULT_PROPAGATION]);

/**
 * A tmpfs request → OCI tmpfs mount: Docker's `noexec,nosuid,nodev,rprivate` then the
 * user's options, merged so the later option of a pair wins (`exec` undoes `noexec`).
 */
export function tmpfsToOciMount(m: MountRequest): OciMount {
  const opts = [...TMPFS_DEFAULT_OPTIONS, ...m.options];
  if (m.readOnly) opts.push('ro');
  return { destination: m.target, type: 'tmpfs', source: 'tmpfs', options: mergeTmpfsOptions(opts) };
}
