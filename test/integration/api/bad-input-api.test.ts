// Versioning, error format and bad input on the Engine API of a real moatd: every refusal
// has the documented status and `{"message"}` body, and a failed create leaves nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon, type ApiResponse } from '../../helpers/daemon.js';

function raw(d: TestDaemon, method: string, path: string, body: Buffer | undefined, headers: Record<string, string> = {}): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: d.socket, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json: <T>() => JSON.parse(buf.toString()) as T });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function assertError(r: ApiResponse, status: number, message: RegExp): void {
  assert.equal(r.status, status, r.body.toString());
  assert.equal(r.headers['content-type'], 'application/json', 'exactly application/json, or the CLI prints raw JSON');
  const m = r.json<{ message: string }>().message;
  assert.match(m, message);
}

test('ping, version and info', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const head = await raw(d, 'HEAD', '/_ping', undefined);
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  for (const [k, v] of Object.entries({ 'api-version': '1.47', ostype: 'linux', 'docker-experimental': 'false', swarm: 'inactive', 'cache-control': 'no-cache, no-store, must-revalidate', pragma: 'no-cache' })) {
    assert.equal(head.headers[k], v, k);
  }
  assert.match(String(head.headers['server']), /\(linux\)$/);
  const get = await d.api('GET', '/_ping');
  assert.equal(get.body.toString(), 'OK');
  assert.equal(get.headers['content-type'], 'text/plain; charset=utf-8');
  const v = (await d.api('GET', '/v1.24/version')).json<{ ApiVersion: string; MinAPIVersion: string; Components: Array<{ Name: string }> }>();
  assert.equal(v.ApiVersion, '1.47');
  assert.equal(v.MinAPIVersion, '1.24');
  assert.ok(v.Components.some((c) => c.Name === 'Engine'), 'docker version prints only the components');
  const info = (await d.api('GET', '/info')).json<{ SecurityOptions: string[]; OSType: string; Containers: number; Images: number }>();
  assert.equal(info.OSType, 'linux');
  assert.equal(info.Containers, 0);
  assert.ok(info.Images >= 1);
  for (const o of info.SecurityOptions) assert.match(o, /^name=\w+(,\w+=[^,]*)*$/);
  assertError(await d.api('GET', '/v1.99/info'), 400, /^client version 1\.99 is too new\. Maximum supported API version is 1\.47$/);
  assertError(await d.api('GET', '/v1.12/info'), 400, /^client version 1\.12 is too old\. Minimum supported API version is 1\.24/);
});

test('bad input is refused with the right status and creates nothing', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const json = { 'Content-Type': 'application/json' };

  await t.test('unknown endpoints and methods are 404 page not found', async () => {
    assertError(await d.api('GET', '/v1.47/nosuch'), 404, /^page not found$/);
    assertError(await d.api('PUT', '/containers/json'), 404, /^page not found$/);
    // The inspect chain needs 404 for kinds moat does not have.
    assertError(await d.api('GET', '/networks/nosuch'), 404, /not found/);
    assertError(await d.api('GET', '/plugins/nosuch/json'), 404, /not found/);
    assertError(await d.api('GET', '/volumes/nosuch'), 404, /no such volume/);
  });

  await t.test('invalid JSON is 400 with the parse error', async () => {
    assertError(await raw(d, 'POST', '/containers/create', Buffer.from('{"Image":'), json), 400, /^(invalid JSON|Cannot decode request body): .*(end of|JSON)/);
    assertError(await raw(d, 'POST', '/volumes/create', Buffer.from('[1,'), json), 400, /^(invalid JSON|Cannot decode request body): ./);
    assertError(await raw(d, 'POST', '/containers/create', Buffer.from('{"Image":"busybox"}'), { 'Content-Type': 'text/plain' }), 400, /must be 'application\/json'/);
  });

  await t.test('a body over the limit is 413', async () => {
    const big = Buffer.alloc(17 * 1024 * 1024, 0x20);
    assertError(await raw(d, 'POST', '/containers/create', big, json), 413, /too large/);
  });

  await t.test('invalid names, missing images, refused options: 400/404 naming the problem', async () => {
    assertError(await d.api('POST', '/containers/create?name=x', { Image: 'busybox', Cmd: ['true'] }), 400, /^Invalid container name \(x\), only \[a-zA-Z0-9\]\[a-zA-Z0-9_.-\] are allowed$/);
    assertError(await d.api('POST', '/containers/create?name=a%2Fb', { Image: 'busybox', Cmd: ['true'] }), 400, /Invalid container name/);
    assertError(await d.api('POST', '/containers/create', { Image: 'nosuch', Cmd: ['true'] }), 404, /^No such image: nosuch:latest$/);
    assertError(await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { Links: ['other:alias'] } }), 400, /^could not get container for other: No such container: other$/);
    assertError(await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { PortBindings: { '80/tcp': [{ HostIp: 'nowhere', HostPort: '80' }] } } }), 400, /HostConfig\.PortBindings\["80\/tcp"\]\[0\]: invalid IP address: nowhere/);
    assertError(await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { VolumesFrom: ['other'] } }), 400, /^No such container: other$/);
    assertError(await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { VolumesFrom: [''] } }), 400, /^volumes-from specification cannot be an empty string$/);
    assertError(await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { StorageOpt: { size: '1G' } } }), 400, /^HostConfig\.StorageOpt is not supported by moat yet$/);
    assertError(await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: 7 }), 400, /Cmd/);
    assertError(await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], WorkingDir: 'rel' }), 400, /needs to be an absolute path/);
    // Found by the fuzzer: accepted at create, then every start failed in runc (oom_score_adj EINVAL).
    for (const v of [1001, -1001, 2147483648]) {
      assertError(await d.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { OomScoreAdj: v } }), 400, new RegExp(`^Invalid value ${v}, range for oom score adj is \\[-1000, 1000\\]$`));
    }
  });

  await t.test('nothing was created by any failed create', async () => {
    assert.deepEqual((await d.api('GET', '/containers/json?all=1')).json(), []);
    assert.deepEqual(readdirSync(join(d.dataRoot, 'containers')), []);
  });

  await t.test('unknown fields are tolerated', async () => {
    const r = await d.api('POST', '/containers/create?name=ok1&bogus=1', { Image: 'busybox', Cmd: ['true'], name: 'ignored', Bogus: { a: 1 }, HostConfig: { NotAField: true } });
    assert.equal(r.status, 201, r.body.toString());
    assert.match(r.json<{ Id: string }>().Id, /^[0-9a-f]{64}$/);
    assertError(await d.api('POST', '/containers/create?name=ok1', { Image: 'busybox', Cmd: ['true'] }), 409, /The container name "\/ok1" is already in use/);
  });

  await t.test('per-endpoint refusals', async () => {
    assertError(await d.api('POST', '/containers/nosuch/start'), 404, /^No such container: nosuch$/);
    assertError(await d.api('POST', '/containers/ok1/wait?condition=bogus'), 400, /invalid condition/);
    assertError(await d.api('GET', '/containers/ok1/logs'), 400, /^Bad parameters: you must choose at least one stream$/);
    assertError(await d.api('POST', '/containers/ok1/kill'), 409, /is not running/);
    assertError(await d.api('POST', '/containers/ok1/exec', { Cmd: ['true'] }), 409, /is not running/);
    assertError(await d.api('GET', '/exec/nosuch/json'), 404, /No such exec instance/);
    assertError(await d.api('GET', '/containers/json?filters=%7Bbad'), 400, /invalid filter/);
    assertError(await d.api('POST', '/containers/ok1/rename?name=x'), 400, /Invalid container name/);
    assert.equal((await d.api('POST', '/containers/ok1/stop')).status, 304);
  });
});
