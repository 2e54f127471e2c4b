// A stable identity for a resolved seccomp section, e.g. to show in inspect and to tell
// whether two containers run the same filter.
import { createHash } from 'node:crypto';
import type { LinuxSeccomp } from './oci.js';

/** JSON with object keys sorted at every level; array order kept; undefined members dropped. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    if (obj[k] === undefined) continue;
    parts.push(`${JSON.stringify(k)}:${canonicalJson(obj[k])}`);
  }
  return `{${parts.join(',')}}`;
}

/** 'sha256:' + hex SHA-256 of the canonical JSON of `seccomp`. */
export function profileDigest(seccomp: LinuxSeccomp): string {
  return `sha256:${createHash('sha256').update(canonicalJson(seccomp)).digest('hex')}`;
}
