// The attacker helper (race.c) for the security tests, built once per source version with
// `gcc -static` into a cache under the OS temp dir, like the probe; and a small image maker.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import tarStream from 'tar-stream';
import { REPO, type TestDaemon } from '../daemon.js';

const SOURCE = join(REPO, 'test/helpers/race/race.c');

/** Path of the compiled race helper, building it if the cached one is missing or stale. */
export function buildRace(): string {
  const src = readFileSync(SOURCE);
  const hash = createHash('sha256').update(src).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'moat-race-cache');
  const out = join(dir, `race-${hash}`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tmp = `${out}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    execFileSync('gcc', ['-static', '-O2', '-Wall', '-o', tmp, SOURCE], { stdio: ['ignore', 'pipe', 'pipe'] });
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
  return out;
}

/** Copy the helper into `dir` (a test's temp dir, bound read-only into the attacker). */
export function placeRace(dir: string): string {
  const p = join(dir, 'race');
  copyFileSync(buildRace(), p);
  chmodSync(p, 0o755);
  return p;
}

export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  body?: string | Buffer;
  linkname?: string;
  mode?: number;
}

export async function tarball(entries: readonly TarEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), ...(e.linkname !== undefined ? { linkname: e.linkname } : {}) };
    if (type === 'file') pack.entry(header, e.body ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Import an image made of busybox (as /bin/busybox and /bin/sh) plus `extra`; returns its tag. */
export async function importBusyboxImage(d: TestDaemon, repo: string, extra: readonly TarEntry[]): Promise<string> {
  const tar = await tarball([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', body: readFileSync('/bin/busybox'), mode: 0o755 },
    { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    ...extra,
  ]);
  const r = await d.api('POST', `/images/create?fromSrc=-&repo=${repo}&tag=latest`, tar, { 'Content-Type': 'application/x-tar' });
  assert.equal(r.status, 200, `import: ${r.body.toString()}`);
  return `${repo}:latest`;
}
