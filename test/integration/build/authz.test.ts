// Authorization applies to `docker build`: the build request goes through the chain like any
// other, so a policy that refuses host networking refuses `docker build --network host`
// (403 with the policy's message, the CLI exits 1), and a plugin sees the build's query,
// build args included, in the canonical request it is asked about.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon } from '../../helpers/daemon.js';
import { deferStack, startTestPlugin, uniquePluginName } from '../../helpers/authz-plugin/index.js';
import { docker, dockerOk } from '../compat/cli.js';

process.env['DOCKER_BUILDKIT'] = '0';

const POLICY = {
  version: 1,
  default: 'allow',
  rules: [{ id: 'no-host-net', action: 'deny', message: 'host networking is not allowed', when: { hostNamespaces: ['network'] } }],
};

test('the authorization chain judges the build request', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli')) return;
  const defer = deferStack(t);
  const dir = mkdtempSync('/tmp/mt-build-authz-');
  defer(() => rmSync(dir, { recursive: true, force: true }));
  const plugin = await startTestPlugin(uniquePluginName('build'));
  defer(() => plugin.close());
  const policyFile = join(dir, 'policy.json');
  writeFileSync(policyFile, JSON.stringify(POLICY));
  const d = await startDaemon({ args: ['--authorization-policy', policyFile, '--authorization-plugin', plugin.name] });
  defer(() => d.cleanup());
  const ctx = join(dir, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nARG TOKEN\nRUN echo "token=$TOKEN" > /t\n');

  await t.test('a policy denying host networking refuses docker build --network host', async () => {
    const r = await docker(d, ['build', '--network', 'host', '-t', 'az:host', ctx], { timeoutMs: 120_000 });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /authorization denied by plugin moat-policy: host networking is not allowed \(rule no-host-net\)/);
    assert.equal((await docker(d, ['image', 'inspect', 'az:host'])).code, 1, 'no image');
    assert.equal((await dockerOk(d, ['ps', '-aq'])).trim(), '', 'no step container was made');
    const api = await d.api('POST', '/v1.41/build?networkmode=HOST&t=az:api', undefined, { 'Content-Type': 'application/x-tar' });
    assert.equal(api.status, 403);
    assert.equal(api.json<{ message: string }>().message, 'authorization denied by plugin moat-policy: host networking is not allowed (rule no-host-net)');
  });

  await t.test('the same build without host networking passes, and the plugin sees its build args', async () => {
    const before = plugin.calls.length;
    await dockerOk(d, ['build', '--build-arg', 'TOKEN=s3cr3t', '-t', 'az:ok', ctx], { timeoutMs: 120_000 });
    assert.equal(await dockerOk(d, ['run', '--rm', 'az:ok', 'cat', '/t']), 'token=s3cr3t\n');
    const asked = plugin.calls.slice(before).filter((c) => c.call === '/AuthZPlugin.AuthZReq' && /\/build\?/.test(String(c.request?.RequestUri ?? '')));
    assert.equal(asked.length, 1, 'the plugin was asked about the build once');
    const uri = new URL(String(asked[asked.length - 1]!.request.RequestUri), 'http://x');
    assert.equal(asked[asked.length - 1]!.request.RequestMethod, 'POST');
    assert.deepEqual(JSON.parse(uri.searchParams.get('buildargs') ?? 'null'), { TOKEN: 's3cr3t' }, `build args in ${uri.href}`);
    assert.deepEqual(uri.searchParams.getAll('t'), ['az:ok']);
  });
});
