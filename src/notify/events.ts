// A denial line as a Docker event (pure). moatd publishes these on its events bus; `docker
// events` shows them as `container seccomp-denied <id> (syscall=keyctl, errno=EPERM, …)`.
import type { DenialLine } from './policy.js';

/** Docker Engine API event shape (`/events`), as moatd's bus carries it. */
export interface DenialEvent {
  readonly Type: 'container';
  readonly Action: 'seccomp-denied';
  readonly Actor: { readonly ID: string; readonly Attributes: Readonly<Record<string, string>> };
  readonly scope: 'local';
  /** Seconds. */
  readonly time: number;
  readonly timeNano: number;
}

/**
 * The event for one line of a denials file. `attrs` adds the container's `name` and
 * `image`, as Docker puts them on every container event. A 'dropped' line becomes an event
 * with `syscall=""` and `dropped=<count>`.
 *
 * @example
 * denialEvent(r, { name: 'web', image: 'busybox' }).Actor.Attributes.syscall; // 'keyctl'
 */
export function denialEvent(r: DenialLine, attrs: Readonly<Record<string, string>> = {}): DenialEvent {
  const ms = Date.parse(r.time);
  const a: Record<string, string> = { ...attrs };
  if (r.kind === 'denial') {
    a['syscall'] = r.syscall ?? `#${r.nr}`;
    a['errno'] = r.errnoName;
    a['pid'] = String(r.nspid ?? r.pid);
    a['hostPid'] = String(r.pid);
    if (r.comm !== undefined) a['comm'] = r.comm;
    if (r.rule !== null) a['rule'] = String(r.rule.index);
    if (r.rule?.comment !== undefined) a['reason'] = r.rule.comment;
    if (r.suppressed !== undefined) a['suppressed'] = String(r.suppressed);
  } else {
    a['syscall'] = '';
    a['dropped'] = String(r.count);
  }
  return { Type: 'container', Action: 'seccomp-denied', Actor: { ID: r.containerId, Attributes: a }, scope: 'local', time: Math.floor(ms / 1000), timeNano: ms * 1_000_000 };
}
