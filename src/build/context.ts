// The build context on the host: the POST /build body (a tar, possibly compressed, or a bare
// Dockerfile) extracted by the image store's safe extractor into a daemon-owned temporary
// directory, then trimmed by .dockerignore. The directory is moatd's own: no container ever
// writes it, and it is removed when the build ends.
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { createRequire } from 'node:module';
import type * as Dockerignore from '@balena/dockerignore';
import { EngineError, invalid } from '../base/index.js';
import { applyLayer } from '../image/index.js';
import { listDir, openAt, openRoot, readFileAt, unlinkAt, type Handle } from '../sys/index.js';
import { archiveKind } from './copy.js';
import { contextPath, readIgnorePatterns } from './paths.js';

// The package is CommonJS with `module.exports = factory`.
const ignoreFactory = createRequire(import.meta.url)('@balena/dockerignore') as (o?: { ignorecase?: boolean }) => Dockerignore.Ignore;

/** Largest Dockerfile read, and largest bare-Dockerfile body. */
const MAX_DOCKERFILE = 16 * 1024 * 1024;

export interface BuildContext {
  /** The extracted context (daemon-owned). */
  readonly dir: string;
  /** The Dockerfile's text. */
  readonly dockerfile: string;
  /** A fresh daemon-owned temporary directory for this build (archives, downloads). */
  tmpDir(prefix: string): Promise<string>;
  /** Remove everything the context made. */
  remove(): Promise<void>;
}

/** The first `n` bytes of a stream (fewer when it ends first), and a stream that still yields them. */
async function peekBytes(input: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const ended = await new Promise<boolean>((resolve, reject) => {
    const cleanup = (): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
    };
    const onData = (c: Buffer): void => {
      chunks.push(c);
      size += c.length;
      if (size >= n) {
        cleanup();
        input.pause();
        resolve(false);
      }
    };
    const onEnd = (): void => {
      cleanup();
      resolve(true);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onError);
  });
  const head = Buffer.concat(chunks);
  const out = new PassThrough();
  out.write(head);
  if (ended) out.end();
  else {
    input.on('error', (err) => out.destroy(err));
    input.pipe(out);
  }
  return { head, stream: out };
}

/** A decompressor for bzip2 and xz (Debian's tools, argv only, reading stdin). */
function spawnDecompressor(cmd: 'bzip2' | 'xz', input: Readable): Readable {
  const child = spawn(cmd, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  input.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  const out = new PassThrough();
  child.stdout.pipe(out);
  child.on('error', (e) => out.destroy(invalid(`Cannot read build context: ${cmd}: ${e.message}`)));
  child.on('close', (code) => {
    if (code !== 0) out.destroy(invalid(`Cannot read build context: ${cmd}: ${err.trim() || `exit ${code}`}`));
  });
  input.on('error', (e) => child.kill('SIGKILL') && out.destroy(e));
  return out;
}

/** The tar inside a (possibly compressed) archive stream. */
export function decompress(kind: ReturnType<typeof archiveKind>, input: Readable): Readable {
  if (kind === 'gzip') {
    const g = createGunzip();
    g.on('error', () => input.destroy());
    input.on('error', (e) => g.destroy(e));
    return input.pipe(g);
  }
  if (kind === 'bzip2' || kind === 'xz') return spawnDecompressor(kind, input);
  return input;
}

/**
 * Remove what .dockerignore excludes. A directory that is excluded but holds an exception
 * (`!dir/keep`) stays, with only the kept entries.
 */
async function pruneIgnored(dir: Handle, rel: string, ignores: (p: string) => boolean): Promise<void> {
  for (const e of listDir(dir)) {
    const path = rel === '' ? e.name : `${rel}/${e.name}`;
    const h = openAt(dir, e.raw);
    try {
      if (h.stat().isDirectory()) {
        await pruneIgnored(h, path, ignores);
        if (ignores(path) && listDir(h).length === 0) unlinkAt(dir, e.raw, { dir: true });
      } else if (ignores(path)) unlinkAt(dir, e.raw);
    } finally {
      h.close();
    }
  }
}

/**
 * Extract a build context and read its Dockerfile (`dockerfile`, relative to the context;
 * Docker also accepts `dockerfile` in lower case for the default name).
 *
 * @example
 * const ctx = await prepareContext(req, { workDir: images.tmpPath('build'), dockerfile: 'Dockerfile' });
 * try { ... } finally { await ctx.remove(); }
 */
export async function prepareContext(body: Readable, o: { workDir: string; dockerfile: string }): Promise<BuildContext> {
  const dir = join(o.workDir, 'context');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let n = 0;
  const ctx: BuildContext = {
    dir,
    dockerfile: '',
    tmpDir: async (prefix) => {
      const d = join(o.workDir, `${prefix}-${n++}`);
      await mkdir(d, { mode: 0o700 });
      return d;
    },
    remove: () => rm(o.workDir, { recursive: true, force: true }),
  };
  try {
    const { head, stream } = await peekBytes(body, 512);
    const kind = archiveKind(head);
    const dockerfileName = contextPath(o.dockerfile === '' ? 'Dockerfile' : o.dockerfile);
    if (kind === undefined) {
      // Not an archive: the body is the Dockerfile itself (as a file named by `dockerfile`).
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of stream as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > MAX_DOCKERFILE) throw invalid(`Cannot read build context: not an archive, and too large for a Dockerfile (over ${MAX_DOCKERFILE} bytes)`);
        chunks.push(c);
      }
      const text = Buffer.concat(chunks);
      if (text.length === 0) throw invalid('Cannot read build context: the request body is empty');
      await writeFile(join(dir, 'Dockerfile'), text, { mode: 0o600 });
      return { ...ctx, dockerfile: text.toString('utf8') };
    }
    try {
      await applyLayer(decompress(kind, stream), dir, { plainArchive: true });
    } catch (err) {
      if (err instanceof EngineError && err.kind === 'invalid') throw invalid(err.message.replace(/^Cannot import layer/, 'Cannot read build context'));
      throw err;
    }
    const root = openRoot(dir);
    try {
      let text = readFileAt(root, dockerfileName, { resolve: 'in-root', maxBytes: MAX_DOCKERFILE });
      if (text === undefined && o.dockerfile === '') text = readFileAt(root, 'dockerfile', { resolve: 'in-root', maxBytes: MAX_DOCKERFILE });
      if (text === undefined) throw invalid(`Cannot locate specified Dockerfile: ${o.dockerfile === '' ? 'Dockerfile' : o.dockerfile}`);
      const ignoreText = readFileAt(root, '.dockerignore', { resolve: 'beneath' });
      if (ignoreText !== undefined) {
        const ig = ignoreFactory({ ignorecase: false }).add(readIgnorePatterns(ignoreText.toString('utf8')));
        await pruneIgnored(root, '', (p) => ig.ignores(p));
      }
      return { ...ctx, dockerfile: text.toString('utf8') };
    } finally {
      root.close();
    }
  } catch (err) {
    await ctx.remove().catch(() => undefined);
    throw err;
  }
}
