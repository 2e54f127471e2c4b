// docker build (classic builder, DOCKER_BUILDKIT=0) and docker commit against a real moatd,
// with the stock docker CLI 28 and docker-py: every instruction, the cache, multi-stage with
// --target, .dockerignore, a failing RUN that leaves nothing behind, the security of a RUN
// step seen from inside it, commit + history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requires } from '../../helpers/requires.js';
import { startDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { docker, dockerEnv, dockerOk } from '../compat/cli.js';
import { buildProbe } from '../../helpers/probe/index.js';

function build(d: TestDaemon, args: string[], o: { input?: string | Buffer } = {}): ReturnType<typeof docker> {
  return docker(d, ['build', ...args], { timeoutMs: 120_000, ...o });
}

/** DOCKER_BUILDKIT=0 for the CLI: its legacy builder is the classic POST /build. */
process.env['DOCKER_BUILDKIT'] = '0';

function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

function mountsUnder(prefix: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(prefix));
}

interface Inspect {
  Id: string;
  Author: string;
  Config: Record<string, unknown> & { Env: string[]; Labels: Record<string, string>; Cmd: string[] | null; Entrypoint: string[] | null };
}

test('docker build with the classic builder', async (t) => {
  if (!requires(t, 'root', 'runc', 'conmon', 'busybox', 'docker-cli', 'gcc')) return;
  const d = await startDaemon();
  t.after(() => d.cleanup());
  const dir = mkdtempSync('/tmp/mt-build-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  await t.test('every instruction: the image config and the files are as Docker makes them', async () => {
    const ctx = join(dir, 'all');
    write(ctx, {
      'app/a.txt': 'A\n',
      'app/sub/b.txt': 'B\n',
      'one.md': 'one\n',
      'two.md': 'two\n',
      Dockerfile: [
        'ARG BASE=busybox',
        'FROM ${BASE}',
        'MAINTAINER someone',
        'ARG GREETING=hello',
        'ENV A=1 B="x y" \\',
        '    C=${GREETING:-none}',
        'LABEL "com.example.k"="v w" other=${A}',
        'WORKDIR /work',
        'WORKDIR sub',
        'COPY app/ /dst/',
        'COPY --chown=65534:65534 --chmod=600 *.md /docs/',
        'ADD files.tar.gz /unpacked/',
        'RUN echo "$C $GREETING $B" > greeting && ls -ln /docs | tail -n +2 | awk \'{print $1, $3, $4, $NF}\' > /docs.txt',
        'USER nobody',
        'EXPOSE 80 53/udp',
        'VOLUME ["/data"]',
        'SHELL ["/bin/sh", "-ec"]',
        'HEALTHCHECK --interval=5s --retries=2 CMD true',
        'STOPSIGNAL SIGINT',
        'ONBUILD RUN echo from-trigger > /tmp/trigger',
        'ENTRYPOINT ["/bin/sh", "-c"]',
        'CMD ["cat /work/sub/greeting /docs.txt /unpacked/inside.txt"]',
      ].join('\n'),
    });
    mkdirSync(join(dir, 'tarsrc'), { recursive: true });
    writeFileSync(join(dir, 'tarsrc', 'inside.txt'), 'from-archive\n');
    execFileSync('tar', ['-C', join(dir, 'tarsrc'), '-czf', join(ctx, 'files.tar.gz'), 'inside.txt']);
    const r = await build(d, ['-t', 'all:v1', '-t', 'all:v2', '--build-arg', 'GREETING=hi', '--label', 'from.cli=yes', ctx]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Step 1\/22 : ARG BASE=busybox/);
    assert.match(r.stdout, / ---> Running in [0-9a-f]{12}\n/);
    assert.match(r.stdout, /Successfully built [0-9a-f]{12}\nSuccessfully tagged all:v1\nSuccessfully tagged all:v2\n/);
    const [info] = JSON.parse(await dockerOk(d, ['image', 'inspect', 'all:v1'])) as Inspect[];
    const c = info!.Config;
    assert.ok(c.Env.includes('A=1') && c.Env.includes('B=x y') && c.Env.includes('C=hi'), JSON.stringify(c.Env));
    assert.deepEqual(c.Labels, { 'com.example.k': 'v w', other: '1', 'from.cli': 'yes' });
    assert.equal(c['WorkingDir'], '/work/sub');
    assert.equal(c['User'], 'nobody');
    assert.deepEqual(c['ExposedPorts'], { '80/tcp': {}, '53/udp': {} });
    assert.deepEqual(c['Volumes'], { '/data': {} });
    assert.deepEqual(c['Shell'], ['/bin/sh', '-ec']);
    assert.deepEqual(c['Healthcheck'], { Test: ['CMD-SHELL', 'true'], Interval: 5e9, Retries: 2 });
    assert.equal(c['StopSignal'], 'SIGINT');
    assert.deepEqual(c['OnBuild'], ['RUN echo from-trigger > /tmp/trigger']);
    assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c']);
    assert.deepEqual(c.Cmd, ['cat /work/sub/greeting /docs.txt /unpacked/inside.txt']);
    assert.equal(info!.Author, 'someone');
    const out = await dockerOk(d, ['run', '--rm', 'all:v1']);
    assert.equal(out, 'hi hi x y\n-rw------- 65534 65534 one.md\n-rw------- 65534 65534 two.md\nfrom-archive\n');
    assert.equal(await dockerOk(d, ['run', '--rm', '--entrypoint', 'cat', 'all:v1', '/dst/a.txt', '/dst/sub/b.txt']), 'A\nB\n');
    // ONBUILD fires when another build starts FROM the image.
    const child = join(dir, 'child');
    write(child, { Dockerfile: 'FROM all:v1\nUSER root\nRUN cat /tmp/trigger\n' });
    const rc = await build(d, ['-t', 'child', child]);
    assert.equal(rc.code, 0, rc.stderr);
    assert.match(rc.stdout, /# Executing 1 build trigger\n/);
    assert.match(rc.stdout, /from-trigger\n/);
  });

  await t.test('the cache: a rebuild uses it; a changed file re-runs its step and all after it; --no-cache', async () => {
    const ctx = join(dir, 'cache');
    write(ctx, { 'f.txt': 'one\n', Dockerfile: 'FROM busybox\nENV X=1\nCOPY f.txt /f.txt\nRUN cat /f.txt\nCMD ["cat", "/f.txt"]\n' });
    const first = await build(d, ['-t', 'cached', ctx]);
    assert.equal(first.code, 0, first.stderr);
    assert.doesNotMatch(first.stdout, /Using cache/);
    const again = await build(d, ['-t', 'cached', ctx]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.match(/ ---> Using cache/g)?.length, 4, again.stdout);
    assert.equal(/Successfully built ([0-9a-f]+)/.exec(again.stdout)?.[1], /Successfully built ([0-9a-f]+)/.exec(first.stdout)?.[1]);
    writeFileSync(join(ctx, 'f.txt'), 'two\n');
    const changed = await build(d, ['-t', 'cached', ctx]);
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal(changed.stdout.match(/ ---> Using cache/g)?.length, 1, changed.stdout);
    assert.match(changed.stdout, /Running in [0-9a-f]{12}\ntwo\n/);
    assert.equal(await dockerOk(d, ['run', '--rm', 'cached']), 'two\n');
    const none = await build(d, ['--no-cache', ctx]);
    assert.equal(none.code, 0, none.stderr);
    assert.doesNotMatch(none.stdout, /Using cache/);
  });

  await t.test('multi-stage with --target; COPY --from a stage; FROM scratch', async () => {
    const ctx = join(dir, 'multi');
    write(ctx, {
      Dockerfile: [
        'FROM busybox AS builder',
        'RUN mkdir /out && echo built > /out/artifact',
        'FROM scratch AS slim',
        'COPY --from=builder /out/artifact /artifact',
        'FROM busybox AS final',
        'COPY --from=builder /out /copied',
        'RUN cat /copied/artifact',
      ].join('\n'),
    });
    const r = await build(d, ['--target', 'slim', '-t', 'slim', ctx]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Step 3\/4 : FROM scratch AS slim\n ---> \n/);
    assert.doesNotMatch(r.stdout, /FROM busybox AS final/);
    const [slim] = JSON.parse(await dockerOk(d, ['image', 'inspect', 'slim'])) as Array<{ RootFS: { Layers: string[] } }>;
    assert.equal(slim!.RootFS.Layers.length, 1, 'a scratch stage with one COPY has one layer');
    const full = await build(d, ['-t', 'final', ctx]);
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stdout, /built\n/);
    const bad = await build(d, ['--target', 'nope', ctx]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /failed to reach build target nope in Dockerfile/);
  });

  await t.test('.dockerignore: excluded files are not in the context, exceptions are', async () => {
    const ctx = join(dir, 'ignore');
    write(ctx, {
      'keep.txt': 'k\n',
      'secret.key': 's\n',
      'logs/a.log': 'a\n',
      'logs/important.log': 'i\n',
      '.dockerignore': '*.key\nlogs\n!logs/important.log\nDockerfile\n',
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\nRUN cd /ctx && find . | sort\n',
    });
    const r = await build(d, [ctx]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\.\n\.\/\.dockerignore\n\.\/keep\.txt\n\.\/logs\n\.\/logs\/important\.log\n/);
    assert.doesNotMatch(r.stdout, /secret\.key|a\.log|\.\/Dockerfile/);
  });

  await t.test('a failing RUN: its output, its exit code, nothing left behind', async () => {
    const ctx = join(dir, 'fail');
    write(ctx, { Dockerfile: 'FROM busybox\nRUN echo out1 && echo err1 >&2 && exit 3\n' });
    const before = (await dockerOk(d, ['ps', '-aq'])).trim();
    const r = await build(d, [ctx]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /out1\n/);
    assert.match(r.stdout + r.stderr, /err1/);
    assert.match(r.stderr, /The command '\/bin\/sh -c echo out1 && echo err1 >&2 && exit 3' returned a non-zero code: 3/);
    assert.equal((await dockerOk(d, ['ps', '-aq'])).trim(), before, 'no step container left');
    assert.deepEqual(mountsUnder(d.root), [], 'no overlay left mounted');
    const tmp = join(d.dataRoot, 'image', 'tmp');
    assert.deepEqual(existsSync(tmp) ? execFileSync('ls', ['-A', tmp]).toString().trim() : '', '', 'no build context left');
    // A Dockerfile the parser refuses is a 400 with dockerd's words, before any step.
    write(ctx, { Dockerfile: 'FROM busybox\nFOO bar\n' });
    const p = await build(d, [ctx]);
    assert.equal(p.code, 1);
    assert.match(p.stderr, /dockerfile parse error line 2: unknown instruction: FOO/);
  });

  await t.test("a RUN step is an ordinary moat container: reduced capabilities, seccomp filter, pids limit, no network", async () => {
    const ctx = join(dir, 'sec');
    write(ctx, { Dockerfile: 'FROM busybox\nRUN grep -E "^(CapEff|Seccomp):" /proc/self/status; cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; ls /sys/class/net\n' });
    const r = await build(d, ['--no-cache', ctx]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /CapEff:\t00000000800405fb\n/, 'moat’s 11 capabilities');
    assert.match(r.stdout, /Seccomp:\t2\n/);
    assert.match(r.stdout, /\n2048\n/);
    assert.match(r.stdout, /\nlo\n/);
    assert.doesNotMatch(r.stdout, /eth0/);
  });

  await t.test('a syscall the profile refuses in a RUN step is named in the build output, and in the error of a failing step', async () => {
    const ctx = join(dir, 'denied');
    mkdirSync(ctx, { recursive: true });
    copyFileSync(buildProbe(), join(ctx, 'probe'));
    chmodSync(join(ctx, 'probe'), 0o755);
    write(ctx, { Dockerfile: 'FROM busybox\nCOPY probe /probe\nRUN /probe keyctl\nRUN /probe keyctl; exit 3\n' });
    const r = await build(d, ['--no-cache', ctx]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /keyctl errno 1 EPERM/, 'the probe saw EPERM');
    assert.match(r.stdout, /---> seccomp denied: keyctl \(EPERM\)/, r.stdout);
    assert.match(r.stderr, /returned a non-zero code: 3 \(seccomp denied: keyctl \(EPERM\)\)/, r.stderr);
  });

  await t.test('context from stdin (docker build - < Dockerfile), -q, --iidfile', async () => {
    const iid = join(dir, 'iid');
    const r = await build(d, ['-q', '--iidfile', iid, '-'], { input: 'FROM busybox\nRUN echo quiet-step\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.equal(readFileSync(iid, 'utf8').trim(), r.stdout.trim());
  });

  await t.test('ADD of a URL and a remote context need a network', async () => {
    const ctx = join(dir, 'url');
    write(ctx, { Dockerfile: 'FROM busybox\nADD http://127.0.0.1:9/file /file\n' });
    const r = await build(d, [ctx]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /ADD of a URL needs network access/);
  });

  await t.test('docker-py builds too', async (tt) => {
    if (!existsSync('/usr/bin/python3') || spawnSync('/usr/bin/python3', ['-c', 'import docker']).status !== 0) {
      tt.skip('python3-docker is not installed');
      return;
    }
    const ctx = join(dir, 'py');
    write(ctx, { Dockerfile: 'FROM busybox\nARG V\nRUN echo py-$V > /v\nCMD ["cat", "/v"]\n' });
    const script = [
      'import docker, sys',
      `c = docker.DockerClient(base_url="${d.host}")`,
      `img, logs = c.images.build(path="${ctx}", tag="pybuilt", buildargs={"V": "7"}, rm=True)`,
      'print("".join(l.get("stream", "") for l in logs))',
      'print(c.containers.run("pybuilt", remove=True).decode())',
    ].join('\n');
    const p = spawnSync('/usr/bin/python3', ['-c', script], { env: dockerEnv(d), encoding: 'utf8', timeout: 120_000 });
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, /Successfully built [0-9a-f]{12}/);
    assert.match(p.stdout, /py-7\n/);
  });

  await t.test('docker commit with changes, author and message; history shows the row', async () => {
    await dockerOk(d, ['run', '--name', 'to-commit', 'busybox', 'sh', '-c', 'echo committed > /new.txt']);
    const id = (await dockerOk(d, ['commit', '-a', 'me', '-m', 'a message', '-c', 'CMD ["cat", "/new.txt"]', '-c', 'ENV Z=9', 'to-commit', 'committed:v1'])).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await dockerOk(d, ['run', '--rm', 'committed:v1']), 'committed\n');
    const [info] = JSON.parse(await dockerOk(d, ['image', 'inspect', 'committed:v1'])) as Inspect[];
    assert.equal(info!.Author, 'me');
    assert.ok(info!.Config.Env.includes('Z=9'));
    const hist = await dockerOk(d, ['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}', 'committed:v1']);
    assert.match(hist.split('\n')[0]!, /^sh -c echo committed > \/new.txt\|a message$/);
    const missing = await docker(d, ['commit', 'no-such-container']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such container: no-such-container/);
    chmodSync(dir, 0o755);
  });
});
