// Docker's Dockerfile word rules (moby/buildkit frontend/dockerfile/shell/lex.go and
// parser/line_parsers.go, as the classic builder of dockerd 20.10 uses them): variable
// substitution with $VAR, ${VAR}, ${VAR:-word}, ${VAR:+word}, ${VAR:?word}, quotes and the
// escape character; splitting of ENV/LABEL name=value words; JSON (exec) form detection. Pure.
import { invalid } from '../base/index.js';

/** Variables visible to a substitution: first match wins (ENV before build args, as Docker). */
export type Lookup = (name: string) => string | undefined;

/** A lookup over `KEY=value` lists; earlier lists win. */
export function lookupIn(...lists: ReadonlyArray<readonly string[]>): Lookup {
  return (name) => {
    for (const list of lists) {
      for (const e of list) {
        const i = e.indexOf('=');
        if (i < 0 ? e === name : e.slice(0, i) === name) return i < 0 ? '' : e.slice(i + 1);
      }
    }
    return undefined;
  };
}

const EOF = '';

class Scanner {
  #s: string[];
  #i = 0;
  constructor(s: string) {
    this.#s = [...s];
  }
  peek(): string {
    return this.#s[this.#i] ?? EOF;
  }
  next(): string {
    return this.#s[this.#i++] ?? EOF;
  }
}

/** Collects the result as one string and as shell-split words (for ProcessWords). */
class Words {
  words: string[] = [];
  #word = '';
  #inWord = false;
  addChar(ch: string): void {
    if (/\s/.test(ch) && this.#inWord) {
      this.words.push(this.#word);
      this.#word = '';
      this.#inWord = false;
    } else if (!/\s/.test(ch)) this.addRawChar(ch);
  }
  addRawChar(ch: string): void {
    this.#word += ch;
    this.#inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRawString(s: string): void {
    this.#word += s;
    this.#inWord = true;
  }
  done(): string[] {
    if (this.#inWord) {
      this.words.push(this.#word);
      this.#word = '';
      this.#inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  #sc: Scanner;
  constructor(
    text: string,
    readonly escape: string,
    readonly lookup: Lookup,
  ) {
    this.#sc = new Scanner(text);
  }

  processStopOn(stop: string): { word: string; words: string[] } {
    let result = '';
    const words = new Words();
    while (this.#sc.peek() !== EOF) {
      const ch = this.#sc.peek();
      if (stop !== EOF && ch === stop) {
        this.#sc.next();
        return { word: result, words: words.done() };
      }
      if (ch === "'" || ch === '"' || ch === '$') {
        const value = ch === "'" ? this.#singleQuote() : ch === '"' ? this.#doubleQuote() : this.#dollar();
        result += value;
        if (ch === '$') words.addString(value);
        else words.addRawString(value);
        continue;
      }
      let c = this.#sc.next();
      if (c === this.escape) {
        // The escape character takes the next one literally; at the end it is dropped.
        c = this.#sc.next();
        if (c === EOF) break;
        words.addRawChar(c);
      } else words.addChar(c);
      result += c;
    }
    if (stop !== EOF) throw invalid(`unexpected end of statement while looking for matching ${stop}`);
    return { word: result, words: words.done() };
  }

  #singleQuote(): string {
    // Everything up to the next ' is literal, the escape character too.
    this.#sc.next();
    let out = '';
    for (;;) {
      const c = this.#sc.next();
      if (c === EOF) throw invalid('unexpected end of statement while looking for matching single-quote');
      if (c === "'") return out;
      out += c;
    }
  }

  #doubleQuote(): string {
    // Literal up to the next ", except $ expansions; the escape character escapes " $ and itself only.
    this.#sc.next();
    let out = '';
    for (;;) {
      const ch = this.#sc.peek();
      if (ch === EOF) throw invalid('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        this.#sc.next();
        return out;
      }
      if (ch === '$') {
        out += this.#dollar();
        continue;
      }
      let c = this.#sc.next();
      if (c === this.escape) {
        const n = this.#sc.peek();
        if (n === EOF) continue;
        if (n === '"' || n === '$' || n === this.escape) c = this.#sc.next();
      }
      out += c;
    }
  }

  #name(): string {
    let name = '';
    for (;;) {
      const ch = this.#sc.peek();
      if (ch === EOF) return name;
      if (name === '' && /[0-9]/.test(ch)) {
        while (/[0-9]/.test(this.#sc.peek()) && this.#sc.peek() !== EOF) name += this.#sc.next();
        return name;
      }
      if (!/[\p{L}\p{N}_]/u.test(ch)) return name;
      name += this.#sc.next();
    }
  }

  #dollar(): string {
    this.#sc.next(); // $
    if (this.#sc.peek() !== '{') {
      const name = this.#name();
      if (name === '') return '$';
      return this.lookup(name) ?? '';
    }
    this.#sc.next(); // {
    const first = this.#sc.peek();
    if (first === EOF) throw invalid("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw invalid('syntax error: bad substitution');
    const name = this.#name();
    const ch = this.#sc.next();
    if (ch === '}') return this.lookup(name) ?? '';
    if (ch === ':') {
      const modifier = this.#sc.next();
      let word: string;
      try {
        word = this.processStopOn('}').word;
      } catch (err) {
        if (this.#sc.peek() === EOF) throw invalid("syntax error: missing '}'");
        throw err;
      }
      const value = this.lookup(name);
      switch (modifier) {
        case '+':
          return value !== undefined && value !== '' ? word : value ?? '';
        case '-':
          return value === undefined || value === '' ? word : value;
        case '?':
          if (value === undefined || value === '') throw invalid(`${name}: ${word === '' ? 'is not allowed to be unset' : word}`);
          return value;
        default:
          throw invalid(`unsupported modifier (${modifier}) in substitution`);
      }
    }
    throw invalid("missing ':' in substitution");
  }
}

function wrap<T>(source: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw invalid(`failed to process ${JSON.stringify(source)}: ${(err as Error).message}`);
  }
}

/**
 * One word with variables substituted, quotes and escapes removed (Docker's ProcessWord):
 * what ENV, LABEL, WORKDIR, USER, COPY/ADD paths, EXPOSE, VOLUME, STOPSIGNAL and ARG values see.
 *
 * @example
 * processWord('${A:-x}/"b c"', lookupIn(['A=']), '\\') // 'x/b c'
 */
export function processWord(word: string, lookup: Lookup, escape = '\\'): string {
  return wrap(word, () => new ShellWord(word, escape, lookup).processStopOn(EOF).word);
}

/**
 * Words split as a shell would after substitution (Docker's ProcessWords); quoted parts keep their spaces.
 *
 * @example
 * processWords('a "b c" $X', lookupIn(['X=d e'])) // ['a', 'b c', 'd', 'e']
 */
export function processWords(text: string, lookup: Lookup, escape = '\\'): string[] {
  return wrap(text, () => new ShellWord(text, escape, lookup).processStopOn(EOF).words);
}

/**
 * Split ENV/LABEL arguments into words the way Docker's parser does (`parseWords`): quotes
 * and escapes are kept for the later substitution, spaces inside quotes do not split.
 *
 * @example
 * splitWords('A=1 B="x y"') // ['A=1', 'B="x y"']
 */
export function splitWords(rest: string, escape = '\\'): string[] {
  const words: string[] = [];
  const chars = [...rest];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= chars.length; pos++) {
    const end = pos === chars.length;
    let ch = chars[pos] ?? '';
    if (phase === 'spaces') {
      if (end) break;
      if (/\s/.test(ch)) continue;
      phase = 'word';
    }
    if (end) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (/\s/.test(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        pos++;
        ch = chars[pos]!;
      }
      word += ch;
      continue;
    }
    // in a quote
    if (ch === quote) phase = 'word';
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      pos++;
      word += ch;
      ch = chars[pos]!;
    }
    word += ch;
  }
  return words;
}

/**
 * `name=value` pairs of ENV and LABEL (Docker's parseNameVal): the old form `ENV key value
 * with spaces` gives one pair; otherwise each word must hold an `=`. Keys and values still
 * carry their quotes (substitution removes them).
 *
 * @example
 * parseNameValues('ENV', 'A=1 B="x y"') // [['A', '1'], ['B', '"x y"']]
 */
export function parseNameValues(keyword: string, rest: string, escape = '\\'): Array<[string, string]> {
  const words = splitWords(rest, escape);
  if (words.length === 0) throw invalid(`${keyword} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    // The old form: the first word is the key, the rest of the line (as written) the value.
    const m = /^\s*\S+\s+([\s\S]*)$/.exec(rest);
    if (keyword === 'LABEL' || !m || m[1]!.trim() === '') throw invalid(`${keyword} must have two arguments`);
    return [[words[0]!, m[1]!.trim()]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i < 0) throw invalid(`Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`);
    if (i === 0) throw invalid(`${keyword} names can not be blank`);
    return [w.slice(0, i), w.slice(i + 1)];
  });
}

/**
 * The JSON (exec) form of RUN/CMD/ENTRYPOINT/SHELL/VOLUME/COPY, or undefined for the shell
 * form. Like Go's json.Decoder, only the first JSON value counts (text after it is ignored);
 * JSON that is not an array of strings is a 400, text that is not JSON is the shell form.
 *
 * @example
 * parseJsonForm('["echo", "hi"]') // ['echo', 'hi']
 * parseJsonForm("[ 'a' ]")        // undefined (not JSON: shell form)
 */
export function parseJsonForm(rest: string): string[] | undefined {
  const t = rest.trimStart();
  if (!t.startsWith('[')) return undefined;
  const end = endOfJsonArray(t);
  if (end < 0) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(t.slice(0, end));
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw invalid('when using JSON array syntax, arrays must be comprised of strings only');
  }
  return v as string[];
}

/** Index just after the `]` that closes the array at the start of `t`, or -1. */
function endOfJsonArray(t: string): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}
