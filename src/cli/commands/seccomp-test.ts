// `moat seccomp test FILE`: runs the batch probe in containers through moatd, unconfined and
// under the profile, and compares the kernel's outcomes with the emulator's verdicts.
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import tar from 'tar-stream';
import { AUDIT_ARCH_X86_64, resolveProfile, retLetsCallRun } from '../../seccomp/index.js';
import { decide, expectedOutcome, formatOutcome, parseProbeOutput, probeArg, probeCorpus, queryData, sameOutcome, type Outcome } from '../../seccomp-workbench/index.js';
import { ApiError, demux, readAll, type Client } from '../client.js';
import { capsOf, loadProfileArg, nativeFor, pathText, table, type SeccompCommandDeps } from './seccomp-shared.js';

interface TestCaseResult { syscall: string; nr: number; arch: string; args: string[]; verdict: string; baseline: string; expected: string; kernel: string; ok: boolean }

async function probeImage(client: Client, probe: Buffer): Promise<string> {
  const tag = createHash('sha256').update(probe).digest('hex').slice(0, 12);
  const ref = `moat-seccomp-probe:${tag}`;
  try {
    await client.json('GET', `/images/${ref}/json`);
    return ref;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  const pack = tar.pack();
  pack.entry({ name: 'batch-probe', mode: 0o755, size: probe.length, mtime: new Date(0) }, probe);
  pack.entry({ name: 'tmp/', type: 'directory', mode: 0o1777, mtime: new Date(0) });
  pack.finalize();
  const q = new URLSearchParams({ fromSrc: '-', repo: 'moat-seccomp-probe', tag });
  const res = await client.request('POST', `/images/create?${q.toString()}`, { raw: pack as unknown as NodeJS.ReadableStream, headers: { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' } });
  const body = (await readAll(res)).toString('utf8');
  if ((res.statusCode ?? 500) >= 400) throw new ApiError(res.statusCode ?? 500, `Cannot import the probe image: ${body}`);
  return ref;
}

/** Runs the probe once in a container; returns its stdout. */
async function runProbe(client: Client, image: string, securityOpt: string, capAdd: string[], args: string[], timeoutMs: number): Promise<{ stdout: string; exit: number }> {
  const created = await client.json<{ Id: string }>('POST', '/containers/create', {
    Image: image,
    Cmd: ['/batch-probe', ...args],
    Entrypoint: null,
    // no-new-privileges: runc 1.1.5's init panics (nil pointer in StartInitialization) for
    // many custom profiles when it must load the filter without no_new_privs (seen here).
    HostConfig: { SecurityOpt: [securityOpt, 'no-new-privileges'], CapAdd: capAdd, NetworkMode: 'none', Init: false },
  });
  const id = created.Id;
  try {
    const waitRes = client.request('POST', `/containers/${id}/wait?condition=next-exit`);
    await client.call('POST', `/containers/${id}/start`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`probe container did not exit within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    const waited = await Promise.race([waitRes.then(readAll), timeout]).finally(() => clearTimeout(timer));
    const exit = (JSON.parse(waited.toString('utf8') || '{}') as { StatusCode?: number }).StatusCode ?? -1;
    const logs = await client.request('GET', `/containers/${id}/logs?stdout=1&stderr=1`);
    let stdout = '';
    let stderr = '';
    const onData = demux((s, d) => {
      if (s === 2) stderr += d.toString();
      else stdout += d.toString();
    });
    for await (const chunk of logs) onData(chunk as Buffer);
    if (stderr !== '') process.stderr.write(stderr);
    return { stdout, exit };
  } finally {
    await client.call('DELETE', `/containers/${id}?force=1`).catch(() => undefined);
  }
}

/** Returns the exit code: 1 on any mismatch or a case the unconfined run lost. */
export async function runTest(deps: SeccompCommandDeps, file: string, o: { probe?: string; capAdd: string[]; enosysStub: boolean; all?: boolean; timeout: string; json?: boolean }): Promise<number> {
  const native = nativeFor(undefined);
  if (native !== 'SCMP_ARCH_X86_64') throw new Error('moat seccomp test runs on x86_64 hosts only (the probe is x86_64 code)');
  const probePath = o.probe ?? process.env['MOAT_SECCOMP_PROBE'];
  if (probePath === undefined || !existsSync(probePath)) {
    throw new Error('moat seccomp test needs the static batch probe: gcc -O2 -static -nostdlib -fno-stack-protector -fno-builtin -o batch-probe test/helpers/seccomp-workbench/batch-probe.c, then --probe ./batch-probe (or MOAT_SECCOMP_PROBE)');
  }
  const profile = loadProfileArg(deps, file);
  const caps = capsOf([], o.capAdd);
  const { seccomp, warnings } = resolveProfile(profile, { arch: native, capabilities: caps, kernel: os.release() });
  for (const w of warnings) if (w.code !== 'syscall_not_on_arch') process.stderr.write(`warning: ${pathText(w)}: ${w.message}\n`);
  const { cases, skipped } = probeCorpus(seccomp, { native });
  // The probe itself needs these (clone as fork, wait4, write, exit_group): refuse to test a
  // profile that blocks them, since every case would then look like a mismatch.
  const needs: Array<[string, bigint[]]> = [['clone', [17n]], ['wait4', []], ['write', [1n]], ['exit_group', []], ['execve', []]];
  const blocked = needs.filter(([n, args]) => {
    const d = decide(seccomp, queryData({ arch: native, syscall: n, args }), native, { enosysStub: o.enosysStub });
    return !retLetsCallRun(d.ret);
  });
  if (blocked.length > 0) throw new Error(`Cannot test this profile in a container: it blocks what the probe needs (${blocked.map(([n]) => n).join(', ')})`);
  const client = deps.client();
  const image = await probeImage(client, readFileSync(probePath));
  const argv = cases.map(probeArg);
  const timeoutMs = Number(o.timeout) * 1000;
  const base = await runProbe(client, image, 'seccomp=unconfined', o.capAdd, argv, timeoutMs);
  const run = await runProbe(client, image, `seccomp=${JSON.stringify(profile)}`, o.capAdd, argv, timeoutMs);
  const baseOut = parseProbeOutput(base.stdout, cases.length);
  const got = parseProbeOutput(run.stdout, cases.length);
  const results: TestCaseResult[] = cases.map((c, i) => {
    const d = decide(seccomp, { nr: c.nr | 0, arch: AUDIT_ARCH_X86_64, args: [...c.args] }, native, { enosysStub: o.enosysStub });
    const want: Outcome = expectedOutcome(d.ret, baseOut[i]!);
    return {
      syscall: c.name ?? `nr ${c.nr}`, nr: c.nr, arch: c.arch, args: c.args.map((a) => `0x${a.toString(16)}`),
      verdict: d.action, baseline: formatOutcome(baseOut[i]!), expected: formatOutcome(want), kernel: formatOutcome(got[i]!), ok: sameOutcome(want, got[i]!),
    };
  });
  const mismatches = results.filter((r) => !r.ok);
  const lostBase = baseOut.filter((x) => x.kind === 'lost').length;
  if (o.json) {
    process.stdout.write(JSON.stringify({ cases: results.length, mismatches: mismatches.length, skipped, baselineLost: lostBase, results: o.all ? results : mismatches }, null, 2) + '\n');
  } else {
    const shown = o.all ? results : mismatches;
    if (shown.length > 0) {
      process.stdout.write(table([['SYSCALL', 'ARGS', 'EMULATOR', 'UNFILTERED', 'EXPECTED', 'KERNEL', ''], ...shown.map((r) => [r.syscall + (r.arch === 'SCMP_ARCH_X32' ? ' (x32)' : ''), r.args.slice(0, 3).join(','), r.verdict, r.baseline, r.expected, r.kernel, r.ok ? 'ok' : 'MISMATCH'])]));
    }
    process.stdout.write(`${results.length} cases, ${mismatches.length} mismatch${mismatches.length === 1 ? '' : 'es'}${skipped.length ? `; ${skipped.length} named syscalls not executed (unsafe in a probe; --json lists them)` : ''}\n`);
  }
  return mismatches.length > 0 || lostBase > 0 ? 1 : 0;
}
