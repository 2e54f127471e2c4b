import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EngineError } from '../base/index.js';
import { DEFAULT_DAEMON_LOG_CONFIG, effectiveLogConfig, logSettings, parseDaemonLogConfig, parseHumanSize } from './log-config.js';

test('parseHumanSize() reads sizes as Docker\'s FromHumanSize (decimal units)', () => {
  assert.equal(parseHumanSize('20m'), 20_000_000);
  assert.equal(parseHumanSize('10MB'), 10_000_000);
  assert.equal(parseHumanSize('1.5k'), 1500);
  assert.equal(parseHumanSize('100'), 100);
  assert.equal(parseHumanSize('1g'), 1_000_000_000);
  assert.equal(parseHumanSize('abc'), undefined);
  assert.equal(parseHumanSize('-1'), undefined);
});

test('effectiveLogConfig() applies moat\'s cap when nothing is set, and the daemon\'s options for its driver', () => {
  assert.deepEqual(effectiveLogConfig(undefined, DEFAULT_DAEMON_LOG_CONFIG), { Type: 'json-file', Config: { 'max-size': '20m', 'max-file': '5' } });
  assert.deepEqual(effectiveLogConfig({ Type: '', Config: {} }, DEFAULT_DAEMON_LOG_CONFIG), { Type: 'json-file', Config: { 'max-size': '20m', 'max-file': '5' } });
  const daemon = parseDaemonLogConfig('json-file', ['max-size=1m']);
  assert.deepEqual(effectiveLogConfig({ Type: 'json-file', Config: { 'max-file': '2' } }, daemon), { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } });
  // Another driver than the daemon's: the daemon's options do not apply (as dockerd).
  assert.deepEqual(effectiveLogConfig({ Type: 'local', Config: {} }, daemon), { Type: 'local', Config: { 'max-size': '20m', 'max-file': '5' } });
  assert.deepEqual(effectiveLogConfig({ Type: 'none' }, daemon), { Type: 'none', Config: {} });
  assert.deepEqual(effectiveLogConfig({ Type: 'k8s-file' }, DEFAULT_DAEMON_LOG_CONFIG).Type, 'json-file');
});

test('effectiveLogConfig() refuses what moat cannot honour, naming the option', () => {
  const cases: Array<[Parameters<typeof effectiveLogConfig>[0], RegExp]> = [
    [{ Type: 'syslog' }, /logging driver "syslog" is not supported by moat/],
    [{ Type: 'json-file', Config: { 'max-size': 'big' } }, /invalid max-size "big"/],
    [{ Type: 'json-file', Config: { 'max-size': '0' } }, /max-size must be a positive number/],
    [{ Type: 'json-file', Config: { 'max-size': '100' } }, /too small/],
    [{ Type: 'json-file', Config: { 'max-file': '0' } }, /max-file cannot be less than 1/],
    [{ Type: 'json-file', Config: { 'max-file': 'x' } }, /invalid max-file "x"/],
    [{ Type: 'json-file', Config: { compress: 'true' } }, /compress=true is not supported by moat/],
    [{ Type: 'json-file', Config: { labels: 'a' } }, /log opt 'labels' is not supported by moat/],
    [{ Type: 'json-file', Config: { tag: 'x' } }, /log opt 'tag' is not supported by moat/],
    [{ Type: 'local', Config: { tag: 'x' } }, /unknown log opt 'tag' for local log driver/],
    [{ Type: 'none', Config: { 'max-size': '1m' } }, /unknown log opt 'max-size' for none log driver/],
  ];
  for (const [req, re] of cases) {
    assert.throws(() => effectiveLogConfig(req, DEFAULT_DAEMON_LOG_CONFIG), (err: unknown) => err instanceof EngineError && err.status === 400 && re.test(err.message), JSON.stringify(req));
  }
  assert.deepEqual(effectiveLogConfig({ Type: 'json-file', Config: { compress: 'false' } }, DEFAULT_DAEMON_LOG_CONFIG).Config?.['compress'], 'false');
});

test('parseDaemonLogConfig() checks --log-opt and daemon.json log-opts', () => {
  assert.deepEqual(parseDaemonLogConfig('local', { 'max-size': '5m' }), { driver: 'local', opts: { 'max-size': '5m' } });
  assert.throws(() => parseDaemonLogConfig('json-file', ['max-size']), /--log-opt: expected KEY=VALUE/);
  assert.throws(() => parseDaemonLogConfig('journald', []), /--log-driver: logging driver "journald" is not supported/);
  assert.throws(() => parseDaemonLogConfig('json-file', ['env=A']), /--log-opt: log opt 'env' is not supported by moat/);
});

test('logSettings() gives the keeper bytes and file counts, old records the daemon\'s', () => {
  assert.deepEqual(logSettings({ Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '3' } }, DEFAULT_DAEMON_LOG_CONFIG), { driver: 'json-file', maxSize: 1_000_000, maxFile: 3 });
  assert.deepEqual(logSettings(undefined, DEFAULT_DAEMON_LOG_CONFIG), { driver: 'json-file', maxSize: 20_000_000, maxFile: 5 });
  assert.deepEqual(logSettings({ Type: 'k8s-file', Config: {} }, DEFAULT_DAEMON_LOG_CONFIG), { driver: 'json-file', maxSize: 20_000_000, maxFile: 5 });
  assert.equal(logSettings({ Type: 'none', Config: {} }, DEFAULT_DAEMON_LOG_CONFIG).driver, 'none');
});
