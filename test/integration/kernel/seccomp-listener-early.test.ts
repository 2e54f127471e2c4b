// The first container after the seccomp listener pair's idle exit (or the first of the
// daemon) does not wait for the listener's start (issue 18: 250-400 ms of a `docker run`
// after an idle spell). moatd takes the listener's lock, binds its socket and hands both to
// the new process; runc's connection waits in the backlog and is served once it runs. Here
// the listener is held back 1.5 s (a test fault): the container must start before it serves,
// and its blocked syscall must still be answered and explained by it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { buildProbe } from '../../helpers/probe/index.js';

const HOLD_MS = 1500;

/** The `time` of the first JSON log line of `file` whose `msg` is `msg` (and that matches `extra`). */
function logTime(file: string, msg: string, extra: (l: Record<string, unknown>) => boolean = () => true): number | undefined {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    const l = JSON.parse(line) as Record<string, unknown>;
    if (l['msg'] === msg && extra(l)) return l['time'] as number;
  }
  return undefined;
}

test('a container starts while its seccomp listener is still starting, and its denial is explained', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'gcc')) return;
  const probePath = buildProbe();
  const d = await startDaemon({ env: { MOAT_LISTENER_FAULT: `delay-start:${HOLD_MS}` } });
  t.after(() => d.cleanup());

  const r = await d.moat(['run', '--name', 'early', '-v', `${dirname(probePath)}:/p:ro`, 'busybox', `/p/${basename(probePath)}`, 'keyctl']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /keyctl errno 1 EPERM/, 'the listener answered the queued container with the rule\'s errno');

  const id = (await d.api('GET', '/containers/early/json')).json<{ Id: string }>().Id;
  const started = logTime(d.logFile, 'started', (l) => l['containerId'] === id);
  const ready = logTime(join(d.execRoot, 'seccomp', 'listener.log'), 'seccomp listener ready');
  assert.ok(started !== undefined && ready !== undefined, `both log lines found (started ${started}, ready ${ready})`);
  assert.ok(started < ready, `the container started (${started}) before the listener served (${ready})`);

  const insp = (await d.api('GET', '/containers/early/json')).json<{ Security: { SeccompDenials: Array<{ syscall: string }> } }>();
  assert.ok(insp.Security.SeccompDenials.some((x) => x.syscall === 'keyctl'), 'the denial is recorded for the container');
});
