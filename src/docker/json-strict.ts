/**
 * A strict JSON parser for request bodies that an authorization decision depends on.
 *
 * `JSON.parse` silently keeps the last of two equal keys, and Go's `encoding/json` (which
 * Docker plugins use) matches struct fields case-insensitively. A body that says
 * `{"Privileged":false,"privileged":true}` therefore means different things to different
 * readers. This parser keeps the document as a tree with every key in input order, so the
 * canonicalizer can refuse such bodies and re-serialize exactly one meaning.
 *
 * Numbers keep their literal text: Docker fields such as `Memory` are int64 and a
 * round-trip through a JS number would change them.
 *
 * Pure: no I/O.
 */

export type JsonNode =
  | { readonly t: 'null' }
  | { readonly t: 'bool'; readonly v: boolean }
  | { readonly t: 'num'; readonly raw: string }
  | { readonly t: 'str'; v: string }
  | { readonly t: 'arr'; readonly items: JsonNode[] }
  | { readonly t: 'obj'; readonly entries: Array<[string, JsonNode]> };

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Where parsing failed, with a reason; the caller makes the EngineError. */
export class JsonSyntaxError extends Error {
  override readonly name = 'JsonSyntaxError';
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const MAX_DEPTH = 200;
/** What ends the fast path of a string: an escape or a control character. */
const PLAIN_STRING_STOP = /[\\\x00-\x1f]/;

/** Parse `text` into a tree. Duplicate keys are kept (see `findKeyConflicts`). */
export function parseJsonTree(text: string): JsonNode {
  let i = 0;
  const n = text.length;

  const fail = (msg: string): never => {
    throw new JsonSyntaxError(`${msg} at offset ${i}`, i);
  };
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const str = (): string => {
    // text[i] === '"'
    i++;
    // Most strings hold no escape and no control character: up to the next quote at once
    // (native indexOf and regex instead of a loop per character in V8's interpreter).
    const close = text.indexOf('"', i);
    const plain = close >= 0 ? text.slice(i, close) : '';
    if (close >= 0 && !PLAIN_STRING_STOP.test(plain)) {
      i = close + 1;
      return plain;
    }
    let out = '';
    let start = i;
    for (;;) {
      if (i >= n) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        out += text.slice(start, i);
        i++;
        const e = text[i];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            const hex = text.slice(i + 1, i + 5);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('bad \\u escape');
            out += String.fromCharCode(parseInt(hex, 16));
            i += 4;
            break;
          }
          default:
            fail('bad escape');
        }
        i++;
        start = i;
        continue;
      }
      i++;
    }
  };
  const num = (): JsonNode => {
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0].length === 0) fail('invalid number');
    const raw = m![0];
    i += raw.length;
    return { t: 'num', raw };
  };
  const lit = (word: string, node: JsonNode): JsonNode => {
    if (text.startsWith(word, i)) {
      i += word.length;
      return node;
    }
    return fail('invalid literal');
  };
  const value = (depth: number): JsonNode => {
    if (depth > MAX_DEPTH) fail('document nested too deeply');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const entries: Array<[string, JsonNode]> = [];
      ws();
      if (text[i] === '}') {
        i++;
        return { t: 'obj', entries };
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected string key');
        const k = str();
        ws();
        if (text[i] !== ':') fail('expected colon');
        i++;
        entries.push([k, value(depth + 1)]);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return { t: 'obj', entries };
        }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const items: JsonNode[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { t: 'arr', items };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return { t: 'arr', items };
        }
        fail('expected , or ]');
      }
    }
    if (c === '"') return { t: 'str', v: str() };
    if (c === 't') return lit('true', { t: 'bool', v: true });
    if (c === 'f') return lit('false', { t: 'bool', v: false });
    if (c === 'n') return lit('null', { t: 'null' });
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return num();
    return fail(i >= n ? 'unexpected end of input' : 'unexpected character');
  };

  const root = value(0);
  ws();
  if (i !== n) fail('trailing data after JSON value');
  return root;
}

/** Convert the tree to plain JS values (numbers become JS numbers; precision may be lost). */
export function toValue(node: JsonNode): JsonValue {
  switch (node.t) {
    case 'null': return null;
    case 'bool': return node.v;
    case 'num': return Number(node.raw);
    case 'str': return node.v;
    case 'arr': return node.items.map(toValue);
    case 'obj': {
      // A null-prototype object: a "__proto__" key stays a plain key.
      const o: { [key: string]: JsonValue } = Object.create(null) as { [key: string]: JsonValue };
      for (const [k, v] of node.entries) o[k] = toValue(v);
      return o;
    }
  }
}

/**
 * Serialize the tree compactly, keys in input order, numbers verbatim. Strings use the
 * escapes of `JSON.stringify`, so equal strings always serialize the same way.
 */
export function serializeTree(node: JsonNode): string {
  switch (node.t) {
    case 'null': return 'null';
    case 'bool': return node.v ? 'true' : 'false';
    case 'num': return node.raw;
    case 'str': return JSON.stringify(node.v);
    case 'arr': return `[${node.items.map(serializeTree).join(',')}]`;
    case 'obj': return `{${node.entries.map(([k, v]) => `${JSON.stringify(k)}:${serializeTree(v)}`).join(',')}}`;
  }
}

/** Look up an object member by exact key. */
export function getMember(node: JsonNode | undefined, key: string): JsonNode | undefined {
  if (node?.t !== 'obj') return undefined;
  for (const [k, v] of node.entries) if (k === key) return v;
  return undefined;
}
