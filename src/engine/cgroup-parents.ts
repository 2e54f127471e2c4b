// Where a container's cgroup lives below moatd's own cgroup, and which `--cgroup-parent`
// levels moat may remove. Paths here are relative to moatd's own cgroup in each hierarchy:
// `<daemon parent>/<container's CgroupParent, cleaned>/<id>`. Pure.
import { cgroupParentLevels, cgroupParentPath } from '../docker/index.js';
import type { ContainerRecord } from './types.js';

/** The container's CgroupParent below the daemon's parent, cleaned ('' when none); a 400 if invalid. */
export function cgroupSubPath(rec: Pick<ContainerRecord, 'HostConfig'>): string {
  return cgroupParentPath(rec.HostConfig.CgroupParent ?? '');
}

/**
 * The container's cgroup relative to moatd's own (runc's relative `cgroupsPath`).
 *
 * @example
 * containerCgroupPath('moat', { Id: 'abc', HostConfig: { CgroupParent: '/ci' } }); // 'moat/ci/abc'
 */
export function containerCgroupPath(daemonParent: string, rec: Pick<ContainerRecord, 'Id' | 'HostConfig'>): string {
  const sub = cgroupSubPath(rec);
  return sub === '' ? `${daemonParent}/${rec.Id}` : `${daemonParent}/${sub}/${rec.Id}`;
}

/** The sub path of a stored record, or '' when it does not pass the check (it never started). */
export function cgroupSubPathOrNone(rec: Pick<ContainerRecord, 'HostConfig'>): string {
  try {
    return cgroupSubPath(rec);
  } catch {
    return '';
  }
}

/**
 * The CgroupParent levels to remove (relative to moatd's own cgroup, deepest first) when
 * `removed` goes: each level of its CgroupParent that no other container's CgroupParent is
 * at or below. A level is removed with rmdir, so one that still holds cgroups stays anyway.
 *
 * @example
 * parentLevelsToRemove('moat', { HostConfig: { CgroupParent: 'a/b' } }, [{ HostConfig: { CgroupParent: 'a/c' } }]); // ['moat/a/b']
 */
export function parentLevelsToRemove(daemonParent: string, removed: Pick<ContainerRecord, 'HostConfig'>, others: ReadonlyArray<Pick<ContainerRecord, 'HostConfig'>>): string[] {
  const inUse = usedLevels(others);
  return cgroupParentLevels(cgroupSubPathOrNone(removed))
    .filter((level) => !inUse.has(level))
    .map((level) => `${daemonParent}/${level}`);
}

/**
 * Every CgroupParent level the containers use (cleaned, relative to the daemon's parent):
 * what a start-up sweep keeps.
 *
 * @example
 * usedLevels([{ HostConfig: { CgroupParent: 'a/b' } }]); // Set { 'a/b', 'a' }
 */
export function usedLevels(records: ReadonlyArray<Pick<ContainerRecord, 'HostConfig'>>): Set<string> {
  const out = new Set<string>();
  for (const r of records) for (const level of cgroupParentLevels(cgroupSubPathOrNone(r))) out.add(level);
  return out;
}
