// `moat seccomp record IMAGE|ROOTFS CMD…`: runs the workload with runc under strace, in the
// bundle moatd's spec generator makes, and writes a minimal profile of what it called.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { normalizeCapName, type CapName } from '../../caps/index.js';
import { writeBundleSync } from '../../runtime/index.js';
import { DEFAULT_PATH_ENV, standaloneSpec } from '../../spec/index.js';
import { parseStrace, synthesizeProfile } from '../../seccomp-workbench/index.js';
import { ApiError, readAll } from '../client.js';
import { capsOf, loadProfileArg, nativeFor, type SeccompCommandDeps } from './seccomp-shared.js';

function execFileText(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 1 << 26 }, (err, stdout, stderr) => (err ? reject(new Error(`${file} ${args[0] ?? ''}: ${String(stderr).trim() || err.message}`)) : resolve(String(stdout))));
  });
}

/** Unpack `image` into `dest` through moatd: a created (never started) container, exported. */
async function exportImage(deps: SeccompCommandDeps, image: string, dest: string): Promise<void> {
  const c = deps.client();
  const created = await c.json<{ Id: string }>('POST', '/containers/create', { Image: image, Cmd: ['true'], Entrypoint: [] });
  try {
    const res = await c.request('GET', `/containers/${created.Id}/export`);
    if ((res.statusCode ?? 500) >= 400) throw new ApiError(res.statusCode ?? 500, (await readAll(res)).toString('utf8'));
    mkdirSync(dest, { recursive: true, mode: 0o755 });
    await new Promise<void>((resolve, reject) => {
      const p = spawn('tar', ['-x', '-C', dest, '--numeric-owner'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`cannot unpack ${image}: ${err.trim()}`))));
      res.pipe(p.stdin);
    });
  } finally {
    await c.call('DELETE', `/containers/${created.Id}?force=1`).catch(() => undefined);
  }
}

/** Returns the exit code (0 once a profile is written). */
export async function runRecord(deps: SeccompCommandDeps, rootfsArg: string, cmd: string[], o: { output?: string; merge?: string; capAdd: string[]; env: string[]; rw?: boolean; keepTrace?: string; json?: boolean }): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error('moat seccomp record runs runc directly and needs root');
  const native = nativeFor(undefined) as 'SCMP_ARCH_X86_64' | 'SCMP_ARCH_AARCH64';
  const merge = o.merge !== undefined ? loadProfileArg(deps, o.merge) : undefined;
  const dir = mkdtempSync(join(os.tmpdir(), 'moat-record-'));
  let rootfs = resolvePath(rootfsArg);
  if (!existsSync(rootfs) || !statSync(rootfs).isDirectory()) {
    // An image: moatd unpacks it (create, export, remove), so recording needs no other tool.
    rootfs = join(dir, 'rootfs');
    try {
      await exportImage(deps, rootfsArg, rootfs);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }
  const short = createHash('sha256').update(`${process.pid}${Date.now()}`).digest('hex').slice(0, 12);
  const id = `moat-record-${short}`;
  const trace = join(dir, 'trace.txt');
  try {
    // The config.json moatd would write for this process (the real spec generator, moat's
    // default capabilities, no_new_privs off as in moatd's containers, so runc loads the filter
    // as early as it does there and the trace shows every call its init makes after the load).
    // The cgroup is one relative component: runc nests it under ours and removes it on delete.
    writeBundleSync(dir, standaloneSpec({
      rootfs,
      readonlyRootfs: o.rw !== true,
      args: cmd,
      env: [DEFAULT_PATH_ENV, ...o.env],
      cwd: '/',
      hostname: short,
      capabilities: capsOf([], o.capAdd).map((c) => normalizeCapName(c, { field: 'CapAdd' })).filter((c): c is CapName => c !== 'ALL'),
      noNewPrivileges: false,
      // A filter that allows everything, so that runc loads one and the trace shows where.
      seccomp: { defaultAction: 'SCMP_ACT_ALLOW', architectures: [], syscalls: [{ names: ['afs_syscall'], action: 'SCMP_ACT_ERRNO' }] },
      cgroupsPath: id,
      mounts: o.rw === true ? [] : [{ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] }],
    }));
    const code = await new Promise<number>((resolve, reject) => {
      const p = spawn('strace', ['-f', '-qq', '--decode-pids=pidns', '-s', '256', '-o', trace, 'runc', '--root', join(dir, 'state'), 'run', '--bundle', dir, id], { stdio: ['inherit', 'inherit', 'inherit'] });
      p.on('error', reject);
      p.on('close', (c, sig) => resolve(c ?? (sig !== null ? 128 : 1)));
    });
    const text = readFileSync(trace, 'utf8');
    if (o.keepTrace) deps.writeFile(o.keepTrace, text);
    const rec = parseStrace(text);
    if (rec.exec === undefined) throw new Error(`The workload never ran (runc exited ${code}); see --keep-trace`);
    const { profile, added, unknown, conditional } = synthesizeProfile(rec, { arch: native, ...(merge ? { merge } : {}) });
    const out = JSON.stringify(profile, null, 2) + '\n';
    if (o.json) {
      process.stdout.write(JSON.stringify({ exit: code, exec: rec.exec, workload: Object.fromEntries(rec.workload), runtime: Object.fromEntries(rec.runtime), added, conditional, unknown, profile }, null, 2) + '\n');
    } else if (o.output) deps.writeFile(o.output, out);
    else process.stdout.write(out);
    process.stderr.write(`recorded ${rec.workload.size} syscalls after exec (${rec.pids.length} process${rec.pids.length === 1 ? '' : 'es'}), ${rec.runtime.size} made by runc init after the filter load; workload exited ${code}${merge ? `; ${added.length} added to the merged profile${conditional.length ? `, left conditional as in the base: ${conditional.join(' ')}` : ''}` : ''}${o.output ? `; profile written to ${o.output}` : ''}\n`);
    return 0;
  } finally {
    await execFileText('runc', ['--root', join(dir, 'state'), 'delete', '--force', id]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
