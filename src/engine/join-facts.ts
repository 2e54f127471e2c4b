// What joining another container's namespace (`--pid/--ipc/--network container:X`) shares,
// for authorization: whether that namespace is the host's, and whether a privileged
// container is in it. Containers that join each other share one namespace, so the answer
// covers every container linked to X by joins of that kind, in either direction. Pure.
import type { ContainerRecord, HostConfig } from './types.js';

export type JoinKind = 'pid' | 'ipc' | 'network';

const FIELD: Readonly<Record<JoinKind, keyof HostConfig>> = { pid: 'PidMode', ipc: 'IpcMode', network: 'NetworkMode' };

function modeOf(c: Pick<ContainerRecord, 'HostConfig'>, kind: JoinKind): string {
  const v = c.HostConfig[FIELD[kind]];
  return typeof v === 'string' ? v : '';
}

/**
 * The facts of the namespace of kind `kind` that container `target` is in.
 *
 * @example
 * namespaceFacts(records, { find, target: 'f00…', kind: 'pid' }); // { host: true, privileged: false }
 */
export function namespaceFacts(
  all: readonly ContainerRecord[],
  o: { find: (ref: string) => ContainerRecord | undefined; target: string; kind: JoinKind },
): { host: boolean; privileged: boolean } {
  const { find, target, kind } = o;
  // Edges both ways: c joined r  <=>  r is joined by c.
  const edges = new Map<string, Set<string>>();
  const link = (a: string, b: string): void => {
    edges.set(a, (edges.get(a) ?? new Set()).add(b));
    edges.set(b, (edges.get(b) ?? new Set()).add(a));
  };
  for (const c of all) {
    const m = modeOf(c, kind);
    if (!m.startsWith('container:')) continue;
    const other = find(m.slice('container:'.length));
    if (other) link(c.Id, other.Id);
  }
  const byId = new Map(all.map((c) => [c.Id, c]));
  const seen = new Set<string>([target]);
  const queue = [target];
  let host = false;
  let privileged = false;
  while (queue.length > 0) {
    const id = queue.shift()!;
    const c = byId.get(id);
    if (c) {
      if (modeOf(c, kind) === 'host') host = true;
      if (c.HostConfig.Privileged === true) privileged = true;
    }
    for (const n of edges.get(id) ?? []) {
      if (!seen.has(n)) {
        seen.add(n);
        queue.push(n);
      }
    }
  }
  return { host, privileged };
}
