// The captured docker CLI 28 / dockerode traffic (shared/fixtures/docker-cli-traces) fed
// through the API's own parsers: create bodies, query parameters, exec bodies, framing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../base/index.js';
import { canonicalizeRequest, readContainerCreate, DEFAULT_MAX_BODY } from '../docker/index.js';
import { decodeTraceText, dechunk, exchanges, parseTrace, routePath, type HttpMessage } from '../../test/helpers/http-trace.js';
import { boolParam, filtersParam, timeParamNs } from './params.js';
import { frame, parseFrames } from './stream.js';
import { dockerTimestamp, hideRuntimeChanges } from './routes/containers.js';
import { parsePsOutput } from '../engine/index.js';
import { humanDuration } from './views.js';
import { fixtureDir } from '../../test/helpers/fixtures.js';

const DIR: string | undefined = fixtureDir('docker-cli-traces');

function traceFiles(): string[] {
  if (DIR === undefined) return [];
  const out: string[] = [];
  for (const sub of ['', 'api-1.50-emulated', 'dockerode']) {
    for (const n of readdirSync(join(DIR, sub))) if (n.endsWith('.txt') && n !== 'README.md') out.push(join(sub, n));
  }
  return out.sort();
}

function load(name: string): ReturnType<typeof exchanges> {
  return exchanges(parseTrace(readFileSync(join(DIR!, name), 'utf8')));
}

function find(name: string, method: string, re: RegExp): { request: HttpMessage; response: HttpMessage | undefined } {
  const hit = load(name).find((x) => x.request.method === method && re.test(routePath(x.request.path ?? '')));
  assert.ok(hit, `${name}: no ${method} ${re}`);
  return hit;
}


/** A captured body as the handler gets it: the canonical request's parsed body (strict JSON reader). */
function canonicalJson(body: Buffer, path = '/containers/create'): unknown {
  return canonicalizeRequest({ method: 'POST', rawUrl: path, headers: { 'content-type': 'application/json' }, body, maxBody: DEFAULT_MAX_BODY }).body;
}

/** A captured body as plain JSON, for asserting what a client sent. */
function sentJson(body: Buffer): unknown {
  return body.length === 0 ? undefined : (JSON.parse(body.toString('utf8')) as unknown);
}
test('decodeTraceText turns \\r and \\xNN into bytes and keeps other backslashes', () => {
  assert.deepEqual(decodeTraceText('a\\r\nb\\x01\\x00'), Buffer.from([0x61, 0x0d, 0x0a, 0x62, 0x01, 0x00]));
  assert.equal(decodeTraceText('{\\"a\\":1}').toString(), '{\\"a\\":1}');
  assert.equal(decodeTraceText('\\xZZ').toString(), '\\xZZ');
});

test('dechunk rebuilds a chunked body and reports an incomplete one', () => {
  assert.deepEqual(dechunk(Buffer.from('3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n'))?.body.toString(), 'abcde');
  assert.equal(dechunk(Buffer.from('5\r\nab')), undefined);
});

test('every trace parses into HTTP exchanges that start with a ping', (t) => {
  if (DIR === undefined) return t.skip('requires shared/fixtures/docker-cli-traces');
  const files = traceFiles();
  assert.ok(files.length > 60, `only ${files.length} traces found`);
  for (const f of files) {
    const ex = load(f);
    assert.ok(ex.length > 0, `${f}: no requests`);
    if (!f.startsWith('dockerode')) assert.equal(ex[0]!.request.target, '/_ping', `${f}: the CLI pings first`);
    for (const { request } of ex) assert.match(request.method ?? '', /^(GET|HEAD|POST|DELETE|PUT)$/, `${f}: ${request.target}`);
  }
});

test('every captured create body parses, or is refused with a 400 that names the field', async (t) => {
  if (DIR === undefined) return t.skip('requires shared/fixtures/docker-cli-traces');
  let parsed = 0;
  for (const f of traceFiles()) {
    for (const { request } of load(f)) {
      if (request.method !== 'POST' || routePath(request.path ?? '') !== '/containers/create') continue;
      await t.test(f, () => {
        const body = sentJson(request.body);
        try {
          const out = readContainerCreate(canonicalJson(request.body));
          const b = body as { Image: string; Cmd: string[] | null; HostConfig?: { AutoRemove?: boolean } };
          assert.equal(out.config.Image, b.Image);
          assert.deepEqual(out.config.Cmd, b.Cmd ?? null);
          assert.equal(out.hostConfig.AutoRemove ?? false, b.HostConfig?.AutoRemove ?? false);
          parsed++;
        } catch (err) {
          assert.ok(err instanceof EngineError, String(err));
          assert.equal(err.status, 400);
          assert.match(err.message, /(HostConfig|Config)\.\w+|seccomp|security-opt|not supported/, err.message);
        }
      });
    }
  }
  assert.ok(parsed >= 20, `only ${parsed} create bodies were accepted`);
});

test('the plain run bodies are accepted with the flags they carry', (t) => {
  if (DIR === undefined) return t.skip('requires shared/fixtures/docker-cli-traces');
  const echo = readContainerCreate(canonicalJson(find('run_rm_echo.txt', 'POST', /^\/containers\/create$/).request.body));
  assert.deepEqual(echo.config.Cmd, ['echo', 'hi']);
  assert.equal(echo.hostConfig.AutoRemove, true);
  assert.equal(echo.config.AttachStdout, true);
  const cat = readContainerCreate(canonicalJson(find('run_rm_i_cat.txt', 'POST', /^\/containers\/create$/).request.body));
  assert.equal(cat.config.OpenStdin, true);
  assert.equal(cat.config.StdinOnce, true);
  const it = readContainerCreate(canonicalJson(find('run_it.txt', 'POST', /^\/containers\/create$/).request.body));
  assert.equal(it.config.Tty, true);
  assert.equal(it.hostConfig.ConsoleSize?.length, 2);
  assert.ok((it.hostConfig.ConsoleSize?.[0] ?? 0) > 0, 'the terminal size travels in ConsoleSize');
  const named = find('run_d_name.txt', 'POST', /^\/containers\/create$/).request;
  assert.equal(named.query?.get('name'), 'x1');
});

test('the create parser refuses what the CLI can send but moat must not ignore', () => {
  const base = { Image: 'bb', Cmd: ['true'] };
  assert.deepEqual(readContainerCreate({ ...base, HostConfig: { Links: ['db:db'] } }).hostConfig.Links, ['db:db'], 'links are read (checked by the engine at create)');
  assert.throws(() => readContainerCreate({ ...base, NetworkingConfig: { EndpointsConfig: { n: { Links: ['db:db'] } } } }), /NetworkingConfig\.EndpointsConfig\["n"\]\.Links/);
  // Published ports and endpoint settings are read (checked at create by the network seam).
  const p = readContainerCreate({ ...base, HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '8080' }] } }, NetworkingConfig: { EndpointsConfig: { n: { Aliases: ['a'], IPAMConfig: { IPv4Address: '10.1.0.9' } } } } });
  assert.deepEqual(p.hostConfig.PortBindings, { '80/tcp': [{ HostPort: '8080' }] });
  assert.deepEqual(p.networkingConfig, { EndpointsConfig: { n: { Aliases: ['a'], IPAMConfig: { IPv4Address: '10.1.0.9' } } } });
  assert.deepEqual(readContainerCreate({ ...base, HostConfig: { VolumesFrom: ['x:ro'] } }).hostConfig.VolumesFrom, ['x:ro'], 'volumes-from is read (resolved by the engine at create)');
  assert.throws(() => readContainerCreate({ ...base, HostConfig: { VolumesFrom: 'x' } }), /HostConfig\.VolumesFrom/);
  assert.deepEqual(readContainerCreate({ ...base, Healthcheck: { Test: ['CMD', 'true'] } }).config.Healthcheck, { Test: ['CMD', 'true'] }, 'healthchecks are implemented (issue 16)');
  assert.throws(() => readContainerCreate({ ...base, Cmd: 5 }), /Config\.Cmd/);
  assert.throws(() => readContainerCreate([]), /config cannot be empty/);
  // Unknown keys (dockerode's `name`) are tolerated.
  assert.equal(readContainerCreate({ ...base, name: 'x', Bogus: { a: 1 } }).config.Image, 'bb');
});

test('invalid JSON is a 400 that carries the parse error', () => {
  // The one JSON reader of a request body is the canonical request's (handlers get its result).
  assert.throws(() => canonicalJson(Buffer.from('{"Image":')), (err: unknown) => err instanceof EngineError && err.status === 400 && /Cannot decode request body: .* at offset \d+/.test(err.message));
  assert.equal(canonicalJson(Buffer.alloc(0)), undefined);
});

test('query parameters as the CLI and dockerode send them', (t) => {
  if (DIR === undefined) return t.skip('requires shared/fixtures/docker-cli-traces');
  const ps = find('ps_filter_quiet.txt', 'GET', /^\/containers\/json$/).request;
  const f = filtersParam(ps.query!);
  assert.ok(f.size > 0, 'a filter was captured');
  for (const [, v] of f) assert.ok(v.length > 0);
  assert.equal(boolParam(find('ps_a.txt', 'GET', /^\/containers\/json$/).request.query!, 'all'), true);
  const ev = find('events_since.txt', 'GET', /^\/events$/).request.query!;
  const since = timeParamNs(ev, 'since');
  const until = timeParamNs(ev, 'until');
  assert.ok(since !== undefined && until !== undefined && since <= until, `since ${since} until ${until}`);
  const dq = load('dockerode/dockerode_basic.txt').map((x) => x.request).find((r) => r.path === '/containers/json');
  assert.ok(dq, 'dockerode lists containers');
  assert.equal(boolParam(dq.query!, 'all'), true, 'dockerode sends all=true');
  assert.equal(boolParam(new URLSearchParams('all=false'), 'all'), false);
  assert.equal(boolParam(new URLSearchParams('all=0'), 'all'), false);
  assert.equal(timeParamNs(new URLSearchParams('since=1.5'), 'since'), 1_500_000_000n);
});

test('exec bodies: CLI and dockerode shapes', (t) => {
  if (DIR === undefined) return t.skip('requires shared/fixtures/docker-cli-traces');
  const create = sentJson(find('exec.txt', 'POST', /^\/containers\/[^/]+\/exec$/).request.body) as { Cmd: string[]; AttachStdout: boolean };
  assert.deepEqual(create.Cmd, ['echo', 'hi']);
  assert.equal(create.AttachStdout, true);
  const start = find('exec.txt', 'POST', /^\/exec\/[^/]+\/start$/);
  assert.equal(start.request.headers['upgrade'], 'tcp');
  assert.deepEqual(sentJson(start.request.body), { Detach: false, Tty: false });
  assert.equal(start.response?.status, 101);
  const it = find('api-1.50-emulated/exec_it.txt', 'POST', /^\/exec\/[^/]+\/start$/);
  assert.ok(Array.isArray((sentJson(it.request.body) as { ConsoleSize?: unknown }).ConsoleSize), 'ConsoleSize at 1.50');
});

test('captured attach and log streams split into frames', (t) => {
  if (DIR === undefined) return t.skip('requires shared/fixtures/docker-cli-traces');
  const attach = find('run_rm_echo.txt', 'POST', /^\/containers\/[^/]+\/attach$/);
  assert.equal(attach.response?.status, 101);
  const { frames, rest } = parseFrames(attach.response!.raw!);
  assert.deepEqual(frames.map((f) => [f.stream, f.data.toString()]), [[1, 'hi\n']]);
  assert.equal(rest.length, 0);
  const exit3 = find('run_attached_exit3.txt', 'POST', /^\/containers\/[^/]+\/attach$/);
  const streams = new Set(parseFrames(exit3.response!.raw!).frames.map((f) => f.stream));
  assert.ok(streams.has(1) && streams.has(2), 'stdout and stderr frames');
  const logs = find('logs.txt', 'GET', /^\/containers\/[^/]+\/logs$/);
  const lf = parseFrames(logs.response!.body).frames;
  assert.ok(lf.length > 0);
  for (const fr of lf) assert.ok(fr.data.toString().endsWith('\n'), 'one frame per log line');
  const ts = find('logs_timestamps_tail.txt', 'GET', /^\/containers\/[^/]+\/logs$/);
  for (const fr of parseFrames(ts.response!.body).frames) assert.match(fr.data.toString(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /);
  // TTY logs are raw: no frame header.
  const tty = find('logs_tty.txt', 'GET', /^\/containers\/[^/]+\/logs$/);
  assert.ok(tty.response!.body.length > 0 && tty.response!.body[0] !== 1);
});

test('frame and parseFrames round-trip, keeping a partial frame as the rest', () => {
  const buf = Buffer.concat([frame(1, Buffer.from('out\n')), frame(2, Buffer.from('err\n')), frame(1, Buffer.from('partial')).subarray(0, 10)]);
  const { frames, rest } = parseFrames(buf);
  assert.deepEqual(frames.map((f) => [f.stream, f.data.toString()]), [[1, 'out\n'], [2, 'err\n']]);
  assert.equal(rest.length, 10);
  assert.deepEqual([...frame(1, Buffer.from('hi\n'))], [1, 0, 0, 0, 0, 0, 0, 3, 0x68, 0x69, 0x0a]);
});

test('the stop, wait and kill exchanges the CLI relies on', (t) => {
  if (DIR === undefined) return t.skip('requires shared/fixtures/docker-cli-traces');
  assert.equal(find('stop_again.txt', 'POST', /\/stop$/).response?.status, 304);
  const wait = find('run_rm_echo.txt', 'POST', /\/wait$/);
  assert.equal(wait.request.query?.get('condition'), 'removed');
  assert.deepEqual(JSON.parse(wait.response!.body.toString()), { Error: null, StatusCode: 0 });
  const kill = find('kill_sig.txt', 'POST', /\/kill$/);
  assert.ok(kill.request.query?.get('signal'), 'the signal is sent as typed');
});

test('dockerTimestamp turns conmon times into Docker log timestamps', () => {
  assert.equal(dockerTimestamp('2026-11-29T01:23:59.385110897+00:00'), '2026-11-29T01:23:59.385110897Z');
  assert.equal(dockerTimestamp('2026-11-29T01:23:59.3851+00:00'), '2026-11-29T01:23:59.385100000Z');
  assert.equal(dockerTimestamp('2026-11-29T02:23:59.000000001+01:00'), '2026-11-29T01:23:59.000000001Z');
  assert.equal(dockerTimestamp('garbage'), 'garbage');
});

test('hideRuntimeChanges drops the mount points runc makes but keeps real changes', () => {
  const got = hideRuntimeChanges([
    { Path: '/dev', Kind: 0 },
    { Path: '/dev/console', Kind: 1 },
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/hosts', Kind: 1 },
    { Path: '/proc', Kind: 1 },
    { Path: '/tmp', Kind: 0 },
    { Path: '/tmp/f', Kind: 1 },
  ]);
  assert.deepEqual(got, [{ Path: '/tmp', Kind: 0 }, { Path: '/tmp/f', Kind: 1 }]);
  const etc = hideRuntimeChanges([{ Path: '/etc', Kind: 0 }, { Path: '/etc/hosts', Kind: 1 }, { Path: '/etc/motd', Kind: 1 }]);
  assert.deepEqual(etc, [{ Path: '/etc', Kind: 0 }, { Path: '/etc/motd', Kind: 1 }]);
});

test('humanDuration matches go-units', () => {
  assert.equal(humanDuration(500), 'Less than a second');
  assert.equal(humanDuration(1000), '1 second');
  assert.equal(humanDuration(30_000), '30 seconds');
  assert.equal(humanDuration(60_000), 'About a minute');
  assert.equal(humanDuration(5 * 60_000), '5 minutes');
  assert.equal(humanDuration(3600_000), 'About an hour');
  assert.equal(humanDuration(3 * 3600_000), '3 hours');
});

test('parsePsOutput keeps the container rows and a command with spaces', () => {
  const out = 'UID PID PPID CMD\nroot 1 0 /sbin/init\nroot 42 1 sh -c sleep 100\nroot 43 42 sleep 100\n';
  assert.deepEqual(parsePsOutput(out, new Set(['42', '43'])), {
    Titles: ['UID', 'PID', 'PPID', 'CMD'],
    Processes: [['root', '42', '1', 'sh -c sleep 100'], ['root', '43', '42', 'sleep 100']],
  });
  assert.throws(() => parsePsOutput('A B\n1 2\n', new Set()), /PID field/);
});
