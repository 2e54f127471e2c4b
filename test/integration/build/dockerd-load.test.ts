// An image built by moat, `docker save`d from moat and `docker load`ed into a stock dockerd
// (a temporary one on temp roots, stopped and removed at the end), runs there with the files,
// owners, environment, working directory and command the build gave it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { dockerdForTest } from '../../helpers/dockerd.js';
import { dockerOk } from '../compat/cli.js';

process.env['DOCKER_BUILDKIT'] = '0';

test('a moat-built image, saved and loaded, runs on dockerd', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli', 'dockerd')) return;
  const dockerd = await dockerdForTest(t);
  if (!dockerd) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const dir = mkdtempSync('/tmp/mt-build-dkd-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'msg.txt'), 'copied\n');
  writeFileSync(
    join(dir, 'Dockerfile'),
    [
      'FROM busybox',
      'ENV GREETING=hello',
      'WORKDIR /app',
      'COPY --chown=1000:1000 msg.txt .',
      'RUN echo "$GREETING from RUN" > run.txt && echo x > /tmp/gone',
      'RUN rm /tmp/gone',
      'USER 1000',
      'CMD ["sh", "-c", "cat msg.txt run.txt; id -u; pwd; stat -c %u /app/msg.txt"]',
    ].join('\n'),
  );
  await dockerOk(d, ['build', '-t', 'moat-built:1', dir], { timeoutMs: 120_000 });
  const expected = 'copied\nhello from RUN\n1000\n/app\n1000\n';
  assert.equal(await dockerOk(d, ['run', '--rm', 'moat-built:1']), expected, 'on moat');
  const saved = join(dir, 'image.tar');
  await dockerOk(d, ['save', '-o', saved, 'moat-built:1']);

  const onDockerd = dockerd.cli;
  assert.match(onDockerd(['load', '-i', saved]), /Loaded image: moat-built:1/);
  assert.equal(onDockerd(['run', '--rm', '--network', 'none', 'moat-built:1']), expected, 'the same output on dockerd');
  const inspect = JSON.parse(onDockerd(['image', 'inspect', 'moat-built:1']))[0] as { Config: { Env: string[]; WorkingDir: string; User: string }; RootFS: { Layers: string[] } };
  assert.ok(inspect.Config.Env.includes('GREETING=hello'));
  assert.equal(inspect.Config.WorkingDir, '/app');
  assert.equal(inspect.Config.User, '1000');
  const moatLayers = JSON.parse(await dockerOk(d, ['image', 'inspect', '--format', '{{json .RootFS.Layers}}', 'moat-built:1'])) as string[];
  assert.deepEqual(inspect.RootFS.Layers, moatLayers, 'dockerd computed the same layer diff ids');
  assert.equal(onDockerd(['run', '--rm', '--network', 'none', 'moat-built:1', 'sh', '-c', 'test -e /tmp/gone && echo present || echo gone']), 'gone\n', 'a file a later step deleted (a whiteout) stays deleted');
});
