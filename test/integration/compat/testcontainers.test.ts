// Testcontainers for Node (npm `testcontainers` 11, on dockerode) against moatd: a
// GenericContainer with a log wait, environment, labels and a file copied in before start;
// exec with split output and its exit code; logs; copy in and out while it runs; restart;
// stop (which removes it). Then a published port with Testcontainers' default wait (the
// host port from outside, and from inside three probes run at once, one of them a
// /bin/bash the image does not have), and a request through the mapped port.
//
// Ryuk, its reaper, is off (its image is on Docker Hub, which test daemons block; the test
// daemon's cleanup removes what is left). TESTCONTAINERS_HOST_OVERRIDE: this machine has a
// /.dockerenv, so Testcontainers would take itself to be in a container and use the bridge
// gateway, where moat publishes nothing (its ports are on 127.0.0.1 by default).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { dockerEnv, dockerOk } from './cli.js';

test('Testcontainers for Node: log wait, exec, logs, copy in and out, restart, a published port, stop', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  // Read once, when Testcontainers first needs the runtime (this file runs in its own process).
  process.env['DOCKER_HOST'] = dockerEnv(d)['DOCKER_HOST'];
  process.env['TESTCONTAINERS_RYUK_DISABLED'] = 'true';
  process.env['TESTCONTAINERS_HOST_OVERRIDE'] = '127.0.0.1';
  const { GenericContainer, Wait } = await import('testcontainers');

  const c = await new GenericContainer('busybox')
    .withCommand(['sh', '-c', 'echo ready; exec sleep 600'])
    .withWaitStrategy(Wait.forLogMessage('ready'))
    .withEnvironment({ FOO: 'bar' })
    .withLabels({ 'moat.test': 'tc' })
    .withCopyContentToContainer([{ content: 'copied-before-start\n', target: '/tmp/before.txt' }])
    .start();
  assert.equal((await dockerOk(d, ['inspect', c.getId(), '--format', '{{index .Config.Labels "moat.test"}}'])).trim(), 'tc');
  const r = await c.exec(['sh', '-c', 'cat /tmp/before.txt; echo $FOO; echo err >&2; exit 3']);
  assert.deepEqual({ stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode }, { stdout: 'copied-before-start\nbar\n', stderr: 'err\n', exitCode: 3 });
  const logs = await c.logs();
  const logText = await new Promise<string>((resolve) => {
    let text = '';
    logs.on('data', (chunk: Buffer | string) => {
      text += String(chunk);
      if (text.includes('ready')) resolve(text);
    });
    setTimeout(() => resolve(text), 5000).unref();
  });
  assert.match(logText, /ready/);
  logs.destroy();
  await c.copyContentToContainer([{ content: 'copied-while-running\n', target: '/tmp/after.txt' }]);
  assert.equal((await c.exec(['cat', '/tmp/after.txt'])).stdout, 'copied-while-running\n');
  const archive = await c.copyArchiveFromContainer('/tmp/after.txt');
  let tarText = '';
  for await (const chunk of archive) tarText += Buffer.from(chunk as Uint8Array).toString('latin1');
  assert.match(tarText, /after\.txt[\s\S]*copied-while-running/, 'a tar with the file');
  await c.restart();
  assert.equal((await dockerOk(d, ['inspect', c.getId(), '--format', '{{.State.Running}} {{.RestartCount}}'])).trim().split(' ')[0], 'true');

  // A port published on a random host port; the default wait checks it from both sides.
  const web = await new GenericContainer('busybox')
    .withCommand(['sh', '-c', 'mkdir -p /www && echo hi-from-httpd > /www/index.html && exec httpd -f -p 8080 -h /www'])
    .withExposedPorts(8080)
    .start();
  const port = web.getMappedPort(8080);
  assert.ok(port > 0);
  const res = await fetch(`http://${web.getHost()}:${port}/index.html`);
  assert.equal(await res.text(), 'hi-from-httpd\n');

  // stop() removes the container (Testcontainers' default), as with dockerd.
  await web.stop();
  await c.stop();
  assert.equal((await dockerOk(d, ['ps', '-aq'])).trim(), '');
});
