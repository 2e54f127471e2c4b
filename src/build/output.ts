// The JSON stream of the classic builder, message for message as dockerd 20.10 writes it
// (test/fixtures/build/dockerd-20.10-*.jsonl are captures of it). Pure.
import { shortId } from '../base/index.js';

export type BuildMessage =
  | { stream: string }
  | { aux: { ID: string } }
  | { errorDetail: { code?: number; message: string }; error: string }
  | { status: string; id?: string; progressDetail?: object; progress?: string };

/** `Step 2/8 : ENV A=hello` and the newline dockerd sends as a message of its own. */
export function stepLines(n: number, total: number, original: string): BuildMessage[] {
  return [{ stream: `Step ${n}/${total} : ${original}` }, { stream: '\n' }];
}

/** ` ---> 01d11fbb598d` (empty after `FROM scratch`, as dockerd). */
export function arrow(imageId: string | undefined): BuildMessage {
  return { stream: ` ---> ${imageId === undefined ? '' : shortId(imageId)}\n` };
}

export const USING_CACHE: BuildMessage = { stream: ' ---> Using cache\n' };

export function runningIn(containerId: string): BuildMessage {
  return { stream: ` ---> Running in ${shortId(containerId)}\n` };
}

export function removingContainer(containerId: string): BuildMessage {
  return { stream: `Removing intermediate container ${shortId(containerId)}\n` };
}

/** A RUN step's output; stderr is wrapped in red as dockerd does. */
export function stepOutput(stream: 1 | 2, data: Buffer): BuildMessage {
  const text = data.toString('utf8');
  return { stream: stream === 2 ? `\u001b[91m${text}\u001b[0m` : text };
}

export function auxId(imageId: string): BuildMessage {
  return { aux: { ID: imageId } };
}

export function successLines(imageId: string, tags: readonly string[]): BuildMessage[] {
  return [{ stream: `Successfully built ${shortId(imageId)}\n` }, ...tags.map((t) => ({ stream: `Successfully tagged ${t}\n` }))];
}

export function errorLine(message: string, code?: number): BuildMessage {
  return { errorDetail: { ...(code !== undefined ? { code } : {}), message }, error: message };
}

/**
 * What the seccomp explainer recorded for a step, one name per denied syscall with its errno,
 * e.g. `keyctl (EPERM)`; records of another shape are skipped.
 *
 * @example
 * deniedSyscalls([{ syscall: 'keyctl', errnoName: 'EPERM' }]); // ['keyctl (EPERM)']
 */
export function deniedSyscalls(records: readonly unknown[]): string[] {
  const seen = new Set<string>();
  for (const r of records) {
    if (typeof r !== 'object' || r === null) continue;
    const { syscall, nr, errnoName } = r as { syscall?: unknown; nr?: unknown; errnoName?: unknown };
    const name = typeof syscall === 'string' ? syscall : typeof nr === 'number' ? `syscall ${nr}` : undefined;
    if (name !== undefined) seen.add(typeof errnoName === 'string' ? `${name} (${errnoName})` : name);
  }
  return [...seen];
}

/** moat's line naming what the seccomp profile refused in a step (dockerd's builds say nothing). */
export function deniedLine(denied: readonly string[]): BuildMessage {
  return { stream: ` ---> seccomp denied: ${denied.join(', ')} (the container's seccomp profile; docs/seccomp-denials.md)\n` };
}

/** dockerd's words for a RUN step that failed. */
export function runFailed(cmd: readonly string[], code: number): string {
  return `The command '${cmd.join(' ')}' returned a non-zero code: ${code}`;
}

export function triggersLine(n: number): BuildMessage {
  return { stream: `# Executing ${n} build trigger${n === 1 ? '' : 's'}\n` };
}

export function unusedArgsWarning(names: readonly string[]): BuildMessage {
  return { stream: `[Warning] One or more build-args [${names.join(' ')}] were not consumed\n` };
}
