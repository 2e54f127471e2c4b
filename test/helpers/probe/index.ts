// The static probe (probe.c) for kernel tests: compiled once per source version with
// `gcc -static -O2` into a cache under the OS temp dir, then copied into a container's rootfs.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../daemon.js';

export const PROBE_SOURCE = join(REPO, 'test/helpers/probe/probe.c');

/** Path of the compiled probe, building it if the cached one is missing or stale. */
export function buildProbe(): string {
  const src = readFileSync(PROBE_SOURCE);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'moat-probe-cache');
  const out = join(dir, `probe-${hash}`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tmp = `${out}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    execFileSync('gcc', ['-static', '-O2', '-Wall', '-o', tmp, PROBE_SOURCE], { stdio: ['ignore', 'pipe', 'pipe'] });
    renameSync(tmp, out); // atomic: a parallel build of the same source wins harmlessly
  } finally {
    rmSync(tmp, { force: true });
  }
  return out;
}

/** One probe result: the syscall returned `ret`, or failed with `errno` (`name` e.g. 'EPERM'). */
export type ProbeResult = { ok: true; ret: number } | { ok: false; errno: number; name: string };

/**
 * Parses probe output (`<label> ok <ret>` / `<label> errno <n> <NAME>`) into a map by label
 * (`keyctl`, `socket:40`, `nr:1000`). Other lines (status, sigsys) are in `other`.
 */
export function parseProbeOutput(stdout: string): { results: Map<string, ProbeResult[]>; other: string[] } {
  const results = new Map<string, ProbeResult[]>();
  const other: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const m = /^(\S+) (?:ok (-?\d+)|errno (\d+) (\S+))$/.exec(line);
    if (m === null) {
      other.push(line);
      continue;
    }
    const r: ProbeResult = m[2] !== undefined ? { ok: true, ret: Number(m[2]) } : { ok: false, errno: Number(m[3]), name: m[4]! };
    const list = results.get(m[1]!) ?? [];
    list.push(r);
    results.set(m[1]!, list);
  }
  return { results, other };
}

/** The result as one short string: 'ok' or the errno name (for table-driven asserts). */
export function verdict(r: ProbeResult | undefined): string {
  if (r === undefined) return 'missing';
  return r.ok ? 'ok' : r.name;
}

/** Joins commands into one probe argv: [['keyctl'], ['socket', '40']] -> keyctl , socket 40. */
export function probeArgs(cmds: ReadonlyArray<readonly string[]>): string[] {
  const out: string[] = [];
  cmds.forEach((c, i) => {
    if (i > 0) out.push(',');
    out.push(...c);
  });
  return out;
}
