// Unit tests of the pure parts of the builder: Docker's word rules, Dockerfile parsing,
// planning of each instruction, cache keys, .dockerignore reading and matching, path
// matching, and the output against dockerd 20.10's captured stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { EngineError } from '../base/index.js';
import { lookupIn, parseJsonForm, parseNameValues, processWord, processWords } from './words.js';
import { parseDockerfile, parseInstruction } from './dockerfile.js';
import { exposedPorts, joinPath, metaArgValues, parseDuration, planStages, planStep, startStage, type PlanContext, type StageState } from './plan.js';
import { cacheKey } from './cache.js';
import { contextPath, hasWildcard, matchPath, readIgnorePatterns } from './paths.js';
import { arrow, auxId, deniedLine, deniedSyscalls, errorLine, runFailed, stepLines, stepOutput, successLines, USING_CACHE, removingContainer, runningIn } from './output.js';
import { REPO } from '../../test/helpers/daemon.js';

const env = lookupIn(['A=1', 'EMPTY=', 'SP=x y']);

test('processWord: Docker substitution, quotes and escapes', () => {
  const cases: Array<[string, string]> = [
    ['$A', '1'],
    ['${A}', '1'],
    ['${NOPE:-def}', 'def'],
    ['${EMPTY:-def}', 'def'],
    ['${A:-def}', '1'],
    ['${A:+set}', 'set'],
    ['${NOPE:+set}', ''],
    ['\\$A', '$A'],
    ["'$A'", '$A'],
    ['"$A b"', '1 b'],
    ['"a\\"b"', 'a"b'],
    ['"a\\nb"', 'a\\nb'],
    ['$', '$'],
    ['a$NOPE.b', 'a.b'],
    ['${A:-${NOPE:-x}}', '1'],
  ];
  for (const [input, want] of cases) assert.equal(processWord(input, env), want, input);
  assert.equal(processWord('`$A', env, '`'), '$A', 'backtick escape');
  for (const bad of ['${A', '${}', '"open', "'open", '${A-x}', '${A:%x}']) {
    assert.throws(() => processWord(bad, env), (e: unknown) => e instanceof EngineError && e.kind === 'invalid' && /failed to process/.test(e.message), bad);
  }
  assert.throws(() => processWord('${NOPE:?must be set}', env), /NOPE: must be set/);
});

test('processWords splits unquoted text and expansions, keeps quoted spaces', () => {
  assert.deepEqual(processWords('a "b c" $SP', env), ['a', 'b c', 'x', 'y']);
});

test('parseNameValues: ENV/LABEL forms as Docker parses them', () => {
  assert.deepEqual(parseNameValues('ENV', 'A=1 B="x y" C=z\\ w'), [['A', '1'], ['B', '"x y"'], ['C', 'z\\ w']]);
  assert.deepEqual(parseNameValues('ENV', 'KEY value with  spaces'), [['KEY', 'value with  spaces']]);
  assert.throws(() => parseNameValues('ENV', 'A=1 B'), /can't find = in "B"/);
  assert.throws(() => parseNameValues('LABEL', 'justakey'), /LABEL must have two arguments/);
});

test('parseJsonForm: exec form only for a JSON array of strings; trailing text ignored as Go does', () => {
  assert.deepEqual(parseJsonForm('["echo", "a b"]'), ['echo', 'a b']);
  assert.deepEqual(parseJsonForm('["a"] trailing'), ['a']);
  assert.equal(parseJsonForm("[ 'a' ]"), undefined);
  assert.equal(parseJsonForm('echo [x]'), undefined);
  assert.throws(() => parseJsonForm('[1, 2]'), /arrays must be comprised of strings only/);
});

test('parseDockerfile: continuations, comments inside them, escape directive, heredocs, flags', () => {
  const df = parseDockerfile('FROM busybox AS b\nRUN echo a \\\n# inside\n  b\nCOPY --chown=1:2 --from=b x /y\nRUN <<EOF\necho hi\nEOF\ncmd ["x"]\n');
  const [from, run, copy, here, cmd] = df.instructions;
  assert.equal(from!.args, 'busybox AS b');
  assert.equal(run!.args, 'echo a   b');
  assert.equal(copy!.flags.get('chown'), '1:2');
  assert.equal(copy!.flags.get('from'), 'b');
  assert.equal(copy!.original, 'COPY --chown=1:2 --from=b x /y');
  assert.deepEqual(here!.heredocs, [{ name: 'EOF', content: 'echo hi\n' }]);
  assert.equal(cmd!.keyword, 'CMD');
  assert.equal(cmd!.original, 'cmd ["x"]');
  const bt = parseDockerfile('# escape=`\nFROM busybox\nRUN echo a `\n  b\n');
  assert.equal(bt.escape, '`');
  assert.equal(bt.instructions[1]!.args, 'echo a   b');
  assert.throws(() => parseDockerfile('FROM busybox\nFOO bar\n'), /dockerfile parse error line 2: unknown instruction: FOO/);
});

function ctx(buildArgs: Record<string, string> = {}): PlanContext {
  return { escape: '\\', buildArgs: new Map(Object.entries(buildArgs)), metaArgs: new Map() };
}

function step(s: StageState, text: string, c = ctx()) {
  const a = planStep(s, parseInstruction(text, '\\'), c);
  s.config = a.config;
  return a;
}

test('planStep: each instruction changes the config as dockerd does', () => {
  const s = startStage({ Env: ['PATH=/bin'], Cmd: ['sh'] }).state;
  step(s, 'ENV A=1 B=$A');
  assert.deepEqual(s.config.Env, ['PATH=/bin', 'A=1', 'B=']);
  step(s, 'ENV A 2 3');
  assert.ok(s.config.Env!.includes('A=2 3'));
  step(s, 'LABEL x=${A} "y z"=w');
  assert.deepEqual(s.config.Labels, { x: '2 3', 'y z': 'w' });
  assert.equal((step(s, 'WORKDIR /a') as { dir: string }).dir, '/a');
  step(s, 'WORKDIR b/../c');
  assert.equal(s.config.WorkingDir, '/a/c');
  step(s, 'USER 1000:1000');
  assert.equal(s.config.User, '1000:1000');
  step(s, 'EXPOSE 80 90-91/udp');
  assert.deepEqual(Object.keys(s.config.ExposedPorts!), ['80/tcp', '90/udp', '91/udp']);
  step(s, 'VOLUME /v1 /v2');
  assert.deepEqual(Object.keys(s.config.Volumes!), ['/v1', '/v2']);
  step(s, 'STOPSIGNAL SIGUSR1');
  assert.equal(s.config.StopSignal, 'SIGUSR1');
  step(s, 'SHELL ["/bin/bash", "-c"]');
  step(s, 'CMD echo hi');
  assert.deepEqual(s.config.Cmd, ['/bin/bash', '-c', 'echo hi']);
  step(s, 'HEALTHCHECK --interval=1m30s --timeout=2s --start-period=1s --retries=3 CMD ["curl", "x"]');
  assert.deepEqual(s.config.Healthcheck, { Test: ['CMD', 'curl', 'x'], Interval: 90e9, Timeout: 2e9, StartPeriod: 1e9, Retries: 3 });
  step(s, 'HEALTHCHECK NONE');
  assert.deepEqual(s.config.Healthcheck, { Test: ['NONE'] });
  step(s, 'ONBUILD RUN make');
  assert.deepEqual(s.config.OnBuild, ['RUN make']);
  assert.throws(() => step(s, 'ONBUILD ONBUILD RUN x'), /Chaining ONBUILD/);
  assert.throws(() => step(s, 'ONBUILD FROM x'), /FROM isn't allowed as an ONBUILD trigger/);
  assert.throws(() => step(s, 'SHELL /bin/sh'), /SHELL requires the arguments to be in JSON form/);
  assert.throws(() => step(s, 'EXPOSE 80/xyz'), /Invalid proto/);
  assert.throws(() => step(s, 'RUN --mount=type=cache echo'), /Unknown flag: mount/);
});

test('ENTRYPOINT drops a CMD inherited from the base image, not one set in the stage', () => {
  const s = startStage({ Cmd: ['base'] }).state;
  step(s, 'ENTRYPOINT ["run"]');
  assert.equal(s.config.Cmd, null);
  const t = startStage({ Cmd: ['base'] }).state;
  step(t, 'CMD ["mine"]');
  step(t, 'ENTRYPOINT ["run"]');
  assert.deepEqual(t.config.Cmd, ['mine']);
});

test('ARG: --build-arg wins, declared args reach RUN and its history, ENV wins over ARG, proxies stay out of history', () => {
  const c = ctx({ V: 'given', HTTP_PROXY: 'http://p', UNUSED: 'x' });
  const s = startStage({}).state;
  step(s, 'ARG V=default', c);
  step(s, 'ARG W=$V-w', c);
  const run = step(s, 'RUN echo $V', c);
  assert.equal(run.kind, 'run');
  if (run.kind !== 'run') return;
  assert.deepEqual(run.cmd, ['/bin/sh', '-c', 'echo $V']);
  assert.ok(run.env.includes('V=given') && run.env.includes('W=given-w') && run.env.includes('HTTP_PROXY=http://p'));
  assert.equal(run.createdBy, '|2 V=given W=given-w /bin/sh -c echo $V');
  step(s, 'ENV V=env', c);
  const run2 = step(s, 'RUN true', c);
  assert.ok(run2.kind === 'run' && run2.env.includes('V=env') && !run2.env.includes('V=given'));
  const meta = metaArgValues([parseInstruction('ARG B=busybox', '\\')], new Map([['B', 'alpine']]), '\\');
  assert.equal(meta.get('B'), 'alpine');
});

test('RUN with a here-document: a lone one is the script, otherwise the shell gets it all', () => {
  const s = startStage({}).state;
  const [lone] = parseDockerfile('RUN <<EOF\necho a\nEOF\n').instructions;
  const a = planStep(s, lone!, ctx());
  assert.ok(a.kind === 'run');
  if (a.kind === 'run') assert.deepEqual(a.cmd, ['/bin/sh', '-c', 'echo a\n']);
  const [cat] = parseDockerfile('RUN cat <<EOF > /f\nhello\nEOF\n').instructions;
  const b = planStep(s, cat!, ctx());
  if (b.kind === 'run') assert.deepEqual(b.cmd, ['/bin/sh', '-c', 'cat <<EOF > /f\nhello\nEOF']);
});

test('COPY plan: destinations against WORKDIR, directory rules, flags', () => {
  const s = startStage({ WorkingDir: '/app' }).state;
  const a = step(s, 'COPY --chown=u:g --chmod=640 a b ./');
  assert.ok(a.kind === 'copy');
  if (a.kind !== 'copy') return;
  assert.equal(a.copy.dest, '/app/');
  assert.equal(a.copy.chown, 'u:g');
  assert.equal(a.copy.chmod, 0o640);
  assert.throws(() => step(s, 'COPY a b /notadir'), /destination must be a directory and end with a \//);
  assert.throws(() => step(s, 'COPY only'), /requires at least two arguments/);
  assert.throws(() => step(s, 'COPY --chmod=abc a /x'), /invalid chmod/);
  assert.throws(() => step(s, 'ADD --from=x a /b'), /Unknown flag: from/);
});

test('planStages: meta args, stage names, --target, step count', () => {
  const p = planStages(parseDockerfile('ARG X\nFROM a AS One\nRUN x\nFROM one\nFROM b AS last\n'), 'one');
  assert.equal(p.stages.length, 1);
  assert.equal(p.stages[0]!.name, 'one');
  assert.equal(p.totalSteps, 3);
  assert.throws(() => planStages(parseDockerfile('FROM a\n'), 'zz'), /failed to reach build target zz in Dockerfile/);
  assert.throws(() => planStages(parseDockerfile('RUN x\nFROM a\n'), ''), /no build stage in current context/);
  assert.throws(() => planStages(parseDockerfile('FROM a AS 1x\n'), ''), /invalid name for build stage/);
});

test('small helpers: durations, ports, paths', () => {
  assert.equal(parseDuration('1m30s'), 90e9);
  assert.equal(parseDuration('250ms'), 250e6);
  assert.throws(() => parseDuration('5x'), /invalid duration/);
  assert.deepEqual(exposedPorts('8080'), ['8080/tcp']);
  assert.equal(joinPath('/a/b', '../c'), '/a/c');
  assert.equal(contextPath('./x/../y'), 'y');
  assert.throws(() => contextPath('../etc/passwd'), /forbidden path outside the build context/);
});

test('cacheKey: the same inputs give the same key; any change gives another', () => {
  const k = cacheKey('sha256:p', ['run', ['sh', '-c', 'x'], ['A=1']]);
  assert.equal(k, cacheKey('sha256:p', ['run', ['sh', '-c', 'x'], ['A=1']]));
  assert.notEqual(k, cacheKey('sha256:q', ['run', ['sh', '-c', 'x'], ['A=1']]));
  assert.notEqual(k, cacheKey('sha256:p', ['run', ['sh', '-c', 'x'], ['A=2']]));
  assert.match(k, /^sha256:[0-9a-f]{64}$/);
});

test('matchPath is Go filepath.Match; wildcards detected', () => {
  assert.ok(matchPath('*.txt', 'a.txt'));
  assert.ok(!matchPath('*.txt', 'd/a.txt'));
  assert.ok(matchPath('d/?.t[x-z]t', 'd/a.txt'));
  assert.ok(!matchPath('[!a]*', 'abc'));
  assert.ok(matchPath('a\\*b', 'a*b'));
  assert.ok(hasWildcard('src/*.go') && !hasWildcard('src/a\\*.go') && !hasWildcard('plain'));
});

test('.dockerignore: read as Docker reads it, matched with Docker semantics (@balena/dockerignore)', () => {
  const patterns = readIgnorePatterns('# comment\n\n/leading\n*.md\n!README.md\n**/*.log\n  spaced  \n./x/../dir\n');
  assert.deepEqual(patterns, ['leading', '*.md', '!README.md', '**/*.log', 'spaced', 'dir']);
  const ig = (createRequire(import.meta.url)('@balena/dockerignore') as (o: object) => { add(p: string[]): { ignores(p: string): boolean } })({ ignorecase: false }).add(patterns);
  const cases: Array<[string, boolean]> = [
    ['leading', true], ['leading/child', true], ['sub/leading', false],
    ['a.md', true], ['README.md', false], ['sub/a.md', false],
    ['x.log', true], ['a/b/c.log', true], ['dir/f', true], ['keep', false],
  ];
  for (const [p, want] of cases) assert.equal(ig.ignores(p), want, p);
});

test('output: the messages of a build are dockerd 20.10s, byte for byte (fixture)', (t) => {
  const file = join(REPO, 'test/fixtures/build/dockerd-20.10-basic-cached.jsonl');
  if (!existsSync(file)) return t.skip('fixture missing');
  // dockerd ends every message with CRLF (its stream formatter); moat's route does too.
  const want = readFileSync(file, 'utf8').split('\r\n').filter((l) => l !== '');
  const ids = want.map((l) => / ---\\u003e ([0-9a-f]{12})\\n/.exec(l)?.[1]).filter((x): x is string => x !== undefined);
  const full = (JSON.parse(want.find((l) => l.includes('"aux"'))!) as { aux: { ID: string } }).aux.ID;
  const lines = ['FROM busybox', 'ARG X=1', 'ENV A=hello', 'LABEL k=v', 'WORKDIR /app', 'COPY f.txt .', 'RUN echo built $A > out.txt && cat out.txt', 'CMD ["cat", "/app/out.txt"]'];
  const got = [];
  got.push(...stepLines(1, 8, lines[0]!), arrow(`sha256:${ids[0]}${'0'.repeat(52)}`));
  lines.slice(1).forEach((l, i) => got.push(...stepLines(i + 2, 8, l), USING_CACHE, arrow(`sha256:${ids[i + 1]}${'0'.repeat(52)}`)));
  got.push(auxId(full), ...successLines(full, ['t1:latest']));
  const encode = (m: unknown): string => JSON.stringify(m).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  assert.deepEqual(got.map(encode), want);
  assert.deepEqual(stepOutput(2, Buffer.from('err1\n')), { stream: '\u001b[91merr1\n\u001b[0m' });
  assert.deepEqual(runningIn('a08ce335e700aaaa'), { stream: ' ---> Running in a08ce335e700\n' });
  assert.deepEqual(removingContainer('a08ce335e700aaaa'), { stream: 'Removing intermediate container a08ce335e700\n' });
  const failing = readFileSync(join(REPO, 'test/fixtures/build/dockerd-20.10-failing-run.jsonl'), 'utf8').trim().split('\r\n').pop()!;
  assert.equal(encode(errorLine(runFailed(['/bin/sh', '-c', 'echo out1 && echo err1 >&2 && exit 3'], 3), 3)), failing);
});

test('deniedSyscalls names each refused syscall once with its errno; odd records are skipped', () => {
  const recs = [
    { kind: 'denial', syscall: 'keyctl', nr: 250, errnoName: 'EPERM' },
    { kind: 'denial', syscall: 'keyctl', nr: 250, errnoName: 'EPERM' },
    { kind: 'denial', syscall: null, nr: 999, errnoName: 'ENOSYS' },
    null,
    'x',
    { kind: 'denial' },
  ];
  assert.deepEqual(deniedSyscalls(recs), ['keyctl (EPERM)', 'syscall 999 (ENOSYS)']);
  assert.deepEqual(deniedSyscalls([]), []);
  assert.match(JSON.stringify(deniedLine(['keyctl (EPERM)'])), /"stream":" ---> seccomp denied: keyctl \(EPERM\) .*\\n"/);
});
