import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJsonObject } from './json.js';

test('parseJsonObject() returns objects and undefined for everything else', () => {
  assert.deepEqual(parseJsonObject('{"a":1}'), { a: 1 });
  assert.equal(parseJsonObject('{"a":'), undefined, 'incomplete');
  assert.equal(parseJsonObject('null'), undefined);
  assert.equal(parseJsonObject('3'), undefined);
  assert.equal(parseJsonObject('"x"'), undefined);
  assert.equal(parseJsonObject(''), undefined);
});
