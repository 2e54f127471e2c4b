import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonSyntaxError, parseJsonTree, toValue } from './json-strict.js';

test('parseJsonTree reads strings as JSON.parse does: the plain fast path and every escape; refuses what JSON.parse refuses', () => {
  const good = [
    '""',
    '"plain"',
    '{"Image":"busybox","Cmd":["sh","-c","echo hi"]}',
    '"a\\"b"',
    '"back\\\\slash"',
    '"\\/ \\b \\f \\n \\r \\t"',
    '"\\u0041\\u00e9\\ud83d\\ude00"',
    '"é ü 😀 ☃"',
    '{"k\\u0065y":"v","x":"\\"quoted\\"","y":""}',
    '["a","b\\\\","\\"","c"]',
    '"ends with backslash pair \\\\"',
  ];
  // toValue makes objects without a prototype: compared as JSON text.
  for (const text of good) assert.equal(JSON.stringify(toValue(parseJsonTree(text))), JSON.stringify(JSON.parse(text)), text);
  const bad = ['"unterminated', '"tab\tinside"', '"nl\ninside"', '"\u0001"', '"bad \\x escape"', '"bad \\u12 escape"', '{"a":"b', '["a",'];
  for (const text of bad) {
    assert.throws(() => JSON.parse(text), SyntaxError, `JSON.parse refuses ${JSON.stringify(text)}`);
    assert.throws(() => parseJsonTree(text), JsonSyntaxError, JSON.stringify(text));
  }
});
