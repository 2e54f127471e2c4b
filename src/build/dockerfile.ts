// A Dockerfile as instructions, with the classic builder's rules. Logical lines (line
// continuations, comments inside them, the `escape` parser directive, here-documents) come
// from `dockerfile-ast`; flags, JSON forms and words follow moby's parser (words.ts). Pure.
import { createRequire } from 'node:module';
import type * as DockerfileAst from 'dockerfile-ast';
import { EngineError } from '../base/index.js';

const require = createRequire(import.meta.url);
const ast = require('dockerfile-ast') as typeof DockerfileAst;

/** The instructions the classic builder knows (moby builder/dockerfile/command). */
export const KNOWN_INSTRUCTIONS = new Set([
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
]);

export interface Heredoc {
  name: string;
  content: string;
}

/** One instruction as written. */
export interface Instruction {
  /** Upper-case keyword: `RUN`. */
  keyword: string;
  /** Flags before the arguments (`--from=base`), values as written; a bare flag has value ''. */
  flags: Map<string, string>;
  /** The arguments after the flags, continuation lines joined as Docker joins them. */
  args: string;
  /** `RUN echo hi` as the Step line shows it (the keyword as typed). */
  original: string;
  /** 1-based line of the keyword. */
  line: number;
  heredocs: Heredoc[];
}

export interface ParsedDockerfile {
  escape: string;
  instructions: Instruction[];
}

function parseError(line: number, message: string): EngineError {
  return new EngineError('invalid', 'ERR_BUILD_DOCKERFILE', `dockerfile parse error line ${line}: ${message}`);
}

/** Leading `--name=value` words (moby's extractBuilderFlags); `--` ends them. */
function splitFlags(text: string): { flags: Map<string, string>; rest: string } {
  const flags = new Map<string, string>();
  let rest = text.trimStart();
  for (;;) {
    const m = /^--([^\s=]*)(?:=(\S*))?(?:\s+|$)/.exec(rest);
    if (!m) break;
    rest = rest.slice(m[0].length);
    if (m[1] === '') break; // `--` alone ends the flags
    flags.set(m[1]!, m[2] ?? '');
  }
  return { flags, rest };
}

/**
 * The instructions of a Dockerfile. Unknown instructions are a 400 naming the line, as
 * dockerd says it (`dockerfile parse error line 2: unknown instruction: FOO`).
 *
 * @example
 * parseDockerfile('FROM busybox\nRUN echo a \\\n  b').instructions[1].args // 'echo a   b'
 */
export function parseDockerfile(text: string): ParsedDockerfile {
  const doc = ast.DockerfileParser.parse(text.replace(/\r\n/g, '\n'));
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const escape = doc.getEscapeCharacter();
  if (escape !== '\\' && escape !== '`') throw parseError(1, `invalid ESCAPE '${escape}'. Must be \` or \\`);
  const out: Instruction[] = [];
  for (const i of doc.getInstructions()) {
    const line = i.getRange().start.line + 1;
    const keyword = i.getKeyword().toUpperCase();
    if (!KNOWN_INSTRUCTIONS.has(keyword)) throw parseError(line, `unknown instruction: ${keyword}`);
    const content = i.getArgumentsContent() ?? '';
    const heredocs: Heredoc[] = [];
    const getHeredocs = (i as unknown as { getHeredocs?: () => DockerfileAst.Heredoc[] }).getHeredocs;
    for (const h of getHeredocs?.call(i) ?? []) {
      const r = h.getContentRange();
      const body = r === null ? '' : lines.slice(r.start.line, r.end.line + 1).join('\n');
      heredocs.push({ name: h.getName(), content: r === null ? '' : `${body}\n` });
    }
    // With here-documents, the instruction itself is the first line; the rest is their content.
    const text0 = heredocs.length > 0 ? content.split('\n')[0]! : content;
    // dockerfile-ast leaves the flags of FROM, COPY, ADD and HEALTHCHECK out of the content.
    const astFlags = (i as unknown as { getFlags?: () => DockerfileAst.Flag[] }).getFlags?.call(i) ?? [];
    const { flags, rest } = splitFlags(text0);
    for (const f of astFlags) flags.set(f.getName(), f.getValue() ?? '');
    const shownFlags = astFlags.map((f) => (f.getValue() === null ? `--${f.getName()}` : `--${f.getName()}=${f.getValue()}`));
    const shown = [...shownFlags, content.split('\n')[0]!].join(' ');
    out.push({ keyword, flags, args: rest.trim(), original: `${i.getInstruction()} ${shown}`.trimEnd(), line, heredocs });
  }
  return { escape, instructions: out };
}

/**
 * One instruction from text (an ONBUILD trigger).
 *
 * @example
 * parseInstruction('RUN echo hi', '\\').keyword // 'RUN'
 */
export function parseInstruction(text: string, escape: string): Instruction {
  const prefix = escape === '`' ? '# escape=`\n' : '';
  const parsed = parseDockerfile(prefix + text);
  const first = parsed.instructions[0];
  if (first === undefined || parsed.instructions.length !== 1) throw new EngineError('invalid', 'ERR_BUILD_DOCKERFILE', `invalid instruction ${JSON.stringify(text)}`);
  return first;
}
