// What each Dockerfile instruction does to the image being built, as the classic builder of
// dockerd 20.10 does it (moby builder/dockerfile/dispatchers.go), without doing it: stages and
// ARG scoping, substitution, the effect of each metadata instruction on the image config, and
// the work a RUN or COPY/ADD step asks for. The builder executes the plan. Pure.
import { EngineError, invalid } from '../base/index.js';
import type { ImageRuntimeConfig } from '../image/index.js';
import { parseInstruction, type Instruction, type ParsedDockerfile } from './dockerfile.js';
import { lookupIn, parseJsonForm, parseNameValues, processWord, type Lookup } from './words.js';

/** The image config fields a Dockerfile sets (Docker's container config keys). */
export interface BuildConfig extends ImageRuntimeConfig {
  Healthcheck?: HealthConfig;
  Shell?: string[];
  OnBuild?: string[] | null;
  ArgsEscaped?: boolean;
}

export interface HealthConfig {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

/** Proxy variables every build may pass without an ARG; left out of history and cache keys (as Docker). */
export const PREDEFINED_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

export interface Stage {
  /** Lower-case `AS` name, if any. */
  name?: string;
  index: number;
  from: Instruction;
  instructions: Instruction[];
}

export interface BuildPlan {
  escape: string;
  /** ARGs before the first FROM. */
  metaArgs: Instruction[];
  stages: Stage[];
  /** Steps the output counts (`Step N/total`). */
  totalSteps: number;
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

/**
 * Stages of a Dockerfile, cut after `target` when given (the classic builder builds every
 * stage up to the target, in order).
 *
 * @example
 * planStages(parseDockerfile('FROM a AS x\nFROM x'), '').stages.length // 2
 */
export function planStages(df: ParsedDockerfile, target: string): BuildPlan {
  const metaArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const i of df.instructions) {
    if (i.keyword === 'FROM') {
      const words = i.args.split(/\s+/).filter((w) => w !== '');
      let name: string | undefined;
      if (words.length === 3 && words[1]!.toLowerCase() === 'as') {
        name = words[2]!.toLowerCase();
        if (!STAGE_NAME.test(name)) throw invalid(`invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`);
      } else if (words.length !== 1) {
        throw invalid('FROM requires either one or three arguments');
      }
      if (name !== undefined && stages.some((s) => s.name === name)) throw invalid(`duplicate name ${name}`);
      stages.push({ ...(name !== undefined ? { name } : {}), index: stages.length, from: i, instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (stage === undefined) {
      if (i.keyword !== 'ARG') throw invalid(`dockerfile parse error line ${i.line}: no build stage in current context`);
      metaArgs.push(i);
    } else stage.instructions.push(i);
  }
  if (stages.length === 0) throw invalid('dockerfile contains no FROM instruction (file with no instructions)');
  let kept = stages;
  if (target !== '') {
    const ix = stages.findIndex((s) => s.name === target.toLowerCase());
    if (ix < 0) throw invalid(`failed to reach build target ${target} in Dockerfile`);
    kept = stages.slice(0, ix + 1);
  }
  const totalSteps = metaArgs.length + kept.reduce((n, s) => n + 1 + s.instructions.length, 0);
  return { escape: df.escape, metaArgs, stages: kept, totalSteps };
}

/** `ARG NAME[=default]`: name and unexpanded default. */
export function parseArg(i: Instruction): { name: string; value: string | undefined } {
  const words = i.args.split(/\s+/).filter((w) => w !== '');
  if (words.length !== 1) throw invalid('ARG requires exactly one argument');
  const w = words[0]!;
  const eq = w.indexOf('=');
  const name = eq < 0 ? w : w.slice(0, eq);
  if (name === '') throw invalid('ARG names can not be blank');
  return { name, value: eq < 0 ? undefined : w.slice(eq + 1) };
}

/**
 * Values of the ARGs before the first FROM, for FROM lines: `--build-arg` wins over the default.
 *
 * @example
 * metaArgValues([argInstr('V=1')], new Map([['V', '2']]), '\\') // Map { 'V' => '2' }
 */
export function metaArgValues(metaArgs: readonly Instruction[], buildArgs: ReadonlyMap<string, string | null>, escape: string): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const i of metaArgs) {
    const a = parseArg(i);
    const given = buildArgs.get(a.name);
    const lookup = lookupIn([...out].filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`));
    out.set(a.name, given !== undefined && given !== null ? given : a.value !== undefined ? processWord(a.value, lookup, escape) : undefined);
  }
  return out;
}

/** The base of a stage: `FROM [--platform=p] image [AS name]`, image expanded with the meta ARGs. */
export function fromImage(i: Instruction, meta: ReadonlyMap<string, string | undefined>, escape: string): { image: string; platform: string | undefined } {
  const lookup: Lookup = (n) => meta.get(n);
  for (const f of i.flags.keys()) if (f !== 'platform') throw invalid(`Unknown flag: ${f}`);
  const word = i.args.split(/\s+/)[0] ?? '';
  const image = processWord(word, lookup, escape);
  if (image === '') throw invalid(`base name (${word}) should not be blank`);
  const p = i.flags.get('platform');
  return { image, platform: p === undefined || p === '' ? undefined : processWord(p, lookup, escape) };
}

/** State of the stage being built: its config, its ARGs, whether CMD was set here. */
export interface StageState {
  config: BuildConfig;
  /** ARGs declared in this stage, with their values (undefined: declared without one). */
  args: Map<string, string | undefined>;
  cmdSet: boolean;
  author?: string;
}

/** What a step asks the builder to do. */
export type StepAction =
  | { kind: 'meta'; config: BuildConfig; createdBy: string; author?: string }
  | { kind: 'run'; config: BuildConfig; cmd: string[]; env: string[]; createdBy: string; usedArgs: string[] }
  | { kind: 'workdir'; config: BuildConfig; dir: string; createdBy: string }
  | { kind: 'copy'; config: BuildConfig; copy: CopyRequest; createdBy: string };

export interface CopyRequest {
  add: boolean;
  /** Source paths as written after substitution (context-relative, or URLs for ADD). */
  sources: string[];
  /** Absolute destination; a trailing '/' means a directory. */
  dest: string;
  chown: string | undefined;
  /** Octal mode for every copied entry (BuildKit's --chmod). */
  chmod: number | undefined;
  /** `--from=`: a stage name or index, or an image. */
  from: string | undefined;
  /** Here-document sources (`COPY <<EOF /dest`): name -> content. */
  heredocs: Array<{ name: string; content: string }>;
}

export interface PlanContext {
  escape: string;
  /** `--build-arg`s; null: named without a value (taken from the client's environment, which did not have it). */
  buildArgs: ReadonlyMap<string, string | null>;
  /** Meta ARG values, for `ARG NAME` without a default inside a stage. */
  metaArgs: ReadonlyMap<string, string | undefined>;
}

function cloneConfig(c: BuildConfig): BuildConfig {
  return JSON.parse(JSON.stringify(c)) as BuildConfig;
}

/** ENV first, then this stage's ARGs with values (ENV wins, as Docker). */
export function stageLookup(s: StageState): Lookup {
  const args = [...s.args].filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  return lookupIn(s.config.Env ?? [], args);
}

function setEnv(env: readonly string[], key: string, value: string): string[] {
  const out = [...env];
  const i = out.findIndex((e) => e === key || e.startsWith(`${key}=`));
  if (i >= 0) out[i] = `${key}=${value}`;
  else out.push(`${key}=${value}`);
  return out;
}

function shellOf(c: BuildConfig): string[] {
  return c.Shell !== undefined && c.Shell.length > 0 ? c.Shell : ['/bin/sh', '-c'];
}

const NOP = (c: BuildConfig, text: string): string => `${shellOf(c).join(' ')} #(nop)  ${text}`;

/** Go's time.ParseDuration for HEALTHCHECK flags, in nanoseconds. */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    total += Number(m[1]) * units[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos !== text.length || text === '') throw invalid(`time: invalid duration ${JSON.stringify(text)}`);
  return Math.round(total);
}

function parseHealthcheck(i: Instruction): HealthConfig {
  const words = i.args.split(/\s+/).filter((w) => w !== '');
  const kind = (words[0] ?? '').toUpperCase();
  if (kind === 'NONE') {
    if (words.length > 1) throw invalid('HEALTHCHECK NONE takes no arguments');
    if (i.flags.size > 0) throw invalid('HEALTHCHECK NONE takes no flags');
    return { Test: ['NONE'] };
  }
  if (kind !== 'CMD') throw invalid(`Unknown type ${JSON.stringify(kind)} in HEALTHCHECK (try CMD)`);
  const rest = i.args.replace(/^\s*\S+\s*/, '');
  if (rest === '') throw invalid('Missing command after HEALTHCHECK CMD');
  const json = parseJsonForm(rest);
  const hc: HealthConfig = { Test: json !== undefined ? ['CMD', ...json] : ['CMD-SHELL', rest] };
  const dur = (name: string, key: 'Interval' | 'Timeout' | 'StartPeriod'): void => {
    const v = i.flags.get(name);
    if (v === undefined) return;
    const d = parseDuration(v);
    if (d !== 0 && d < 1e6) throw invalid(`Interval "${name}" cannot be less than 1ms`);
    hc[key] = d;
  };
  for (const f of i.flags.keys()) if (!['interval', 'timeout', 'start-period', 'retries'].includes(f)) throw invalid(`Unknown flag: ${f}`);
  dur('interval', 'Interval');
  dur('timeout', 'Timeout');
  dur('start-period', 'StartPeriod');
  const r = i.flags.get('retries');
  if (r !== undefined) {
    if (!/^-?\d+$/.test(r)) throw invalid(`strconv.ParseInt: parsing ${JSON.stringify(r)}: invalid syntax`);
    if (Number(r) < 0) throw invalid('--retries cannot be negative');
    hc.Retries = Number(r);
  }
  return hc;
}

/** `80`, `80/udp`, `8000-8002/tcp` -> Docker's port keys. */
export function exposedPorts(spec: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/([A-Za-z]+))?$/.exec(spec);
  if (!m) throw invalid(`Invalid containerPort: ${spec}`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw invalid(`Invalid proto: ${m[3]}`);
  const start = Number(m[1]);
  const end = m[2] !== undefined ? Number(m[2]) : start;
  if (start > 65535 || end > 65535 || end < start) throw invalid(`Invalid containerPort: ${spec}`);
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

/** posix path.join + clean, absolute. */
export function joinPath(base: string, p: string): string {
  const parts: string[] = [];
  for (const seg of (p.startsWith('/') ? p : `${base}/${p}`).split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return `/${parts.join('/')}`;
}

const RUN_FLAGS: ReadonlySet<string> = new Set();

/**
 * The effect of one instruction of a stage (not FROM): the next config and what must be
 * done. `s` is updated for the ARGs and CMD bookkeeping; the config change is in the action.
 *
 * @example
 * planStep(state, parseInstruction('ENV A=1', '\\'), ctx) // { kind: 'meta', config: { Env: ['A=1'] }, ... }
 */
export function planStep(s: StageState, i: Instruction, ctx: PlanContext): StepAction {
  const word = (w: string): string => processWord(w, stageLookup(s), ctx.escape);
  const config = cloneConfig(s.config);
  const noFlags = (): void => {
    for (const f of i.flags.keys()) throw invalid(`Unknown flag: ${f}`);
  };
  if (i.heredocs.length > 0 && i.keyword !== 'RUN' && i.keyword !== 'COPY' && i.keyword !== 'ADD') {
    throw invalid(`${i.keyword} does not take a here-document (line ${i.line})`);
  }
  switch (i.keyword) {
    case 'ENV': {
      noFlags();
      const pairs = parseNameValues('ENV', i.args, ctx.escape).map(([k, v]) => [word(k), word(v)] as const);
      let env = config.Env ?? [];
      for (const [k, v] of pairs) {
        if (k === '') throw invalid('ENV names can not be blank');
        env = setEnv(env, k, v);
      }
      config.Env = env;
      return { kind: 'meta', config, createdBy: NOP(config, `ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`) };
    }
    case 'LABEL': {
      noFlags();
      const pairs = parseNameValues('LABEL', i.args, ctx.escape).map(([k, v]) => [word(k), word(v)] as const);
      const labels = { ...(config.Labels ?? {}) };
      for (const [k, v] of pairs) {
        if (k === '') throw invalid('LABEL names can not be blank');
        labels[k] = v;
      }
      config.Labels = labels;
      return { kind: 'meta', config, createdBy: NOP(config, `LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(' ')}`) };
    }
    case 'MAINTAINER': {
      noFlags();
      if (i.args === '') throw invalid('MAINTAINER requires exactly one argument');
      s.author = i.args;
      return { kind: 'meta', config, createdBy: NOP(config, `MAINTAINER ${i.args}`), author: i.args };
    }
    case 'ARG': {
      noFlags();
      const a = parseArg(i);
      const given = ctx.buildArgs.get(a.name);
      let value: string | undefined;
      if (given !== undefined && given !== null) value = given;
      else if (a.value !== undefined) value = word(a.value);
      else value = ctx.metaArgs.get(a.name);
      s.args.set(a.name, value);
      return { kind: 'meta', config, createdBy: NOP(config, `ARG ${a.name}${a.value !== undefined ? `=${a.value}` : ''}`) };
    }
    case 'WORKDIR': {
      noFlags();
      if (i.args === '') throw invalid('WORKDIR requires exactly one argument');
      const dir = joinPath(config.WorkingDir || '/', word(i.args));
      config.WorkingDir = dir;
      return { kind: 'workdir', config, dir, createdBy: NOP(config, `WORKDIR ${dir}`) };
    }
    case 'USER': {
      noFlags();
      if (i.args === '') throw invalid('USER requires exactly one argument');
      config.User = word(i.args);
      return { kind: 'meta', config, createdBy: NOP(config, `USER ${config.User}`) };
    }
    case 'EXPOSE': {
      noFlags();
      const specs = i.args.split(/\s+/).filter((w) => w !== '').map(word);
      if (specs.length === 0) throw invalid('EXPOSE requires at least one argument');
      const ports = { ...(config.ExposedPorts ?? {}) };
      const added: string[] = [];
      for (const spec of specs) for (const p of exposedPorts(spec)) {
        ports[p] = {};
        added.push(p);
      }
      config.ExposedPorts = ports;
      return { kind: 'meta', config, createdBy: NOP(config, `EXPOSE ${added.join(' ')}`) };
    }
    case 'VOLUME': {
      noFlags();
      const list = (parseJsonForm(i.args) ?? i.args.split(/\s+/).filter((w) => w !== '')).map(word);
      if (list.length === 0) throw invalid('VOLUME requires at least one argument');
      const vols = { ...(config.Volumes ?? {}) };
      for (const v of list) {
        if (v.trim() === '') throw invalid('VOLUME specified can not be an empty string');
        vols[v] = {};
      }
      config.Volumes = vols;
      return { kind: 'meta', config, createdBy: NOP(config, `VOLUME [${list.join(' ')}]`) };
    }
    case 'STOPSIGNAL': {
      noFlags();
      const sig = word(i.args);
      if (!/^(SIG)?[A-Z0-9+-]+$/i.test(sig) || sig === '') throw invalid(`Invalid signal: ${sig}`);
      config.StopSignal = sig;
      return { kind: 'meta', config, createdBy: NOP(config, `STOPSIGNAL ${sig}`) };
    }
    case 'SHELL': {
      noFlags();
      const json = parseJsonForm(i.args);
      if (json === undefined) throw invalid('SHELL requires the arguments to be in JSON form');
      if (json.length === 0) throw invalid('SHELL requires at least one argument');
      config.Shell = json;
      return { kind: 'meta', config, createdBy: NOP(config, `SHELL [${json.map((x) => JSON.stringify(x)).join(' ')}]`) };
    }
    case 'CMD': {
      noFlags();
      const json = parseJsonForm(i.args);
      config.Cmd = json ?? [...shellOf(config), i.args];
      if (json === undefined) config.ArgsEscaped = true;
      s.cmdSet = true;
      return { kind: 'meta', config, createdBy: NOP(config, `CMD [${config.Cmd.map((x) => JSON.stringify(x)).join(' ')}]`) };
    }
    case 'ENTRYPOINT': {
      noFlags();
      const json = parseJsonForm(i.args);
      config.Entrypoint = json !== undefined ? (json.length === 0 ? null : json) : i.args === '' ? null : [...shellOf(config), i.args];
      // A CMD inherited from the base image does not survive a new ENTRYPOINT.
      if (!s.cmdSet) config.Cmd = null;
      return { kind: 'meta', config, createdBy: NOP(config, `ENTRYPOINT [${(config.Entrypoint ?? []).map((x) => JSON.stringify(x)).join(' ')}]`) };
    }
    case 'HEALTHCHECK': {
      const hc = parseHealthcheck(i);
      config.Healthcheck = hc;
      return { kind: 'meta', config, createdBy: NOP(config, `HEALTHCHECK &{${JSON.stringify(hc.Test)}}`) };
    }
    case 'ONBUILD': {
      noFlags();
      const trigger = i.args.trim();
      const kw = (/^\S+/.exec(trigger)?.[0] ?? '').toUpperCase();
      if (kw === 'ONBUILD') throw invalid('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (kw === 'FROM' || kw === 'MAINTAINER') throw invalid(`${kw} isn't allowed as an ONBUILD trigger`);
      parseInstruction(trigger, ctx.escape);
      config.OnBuild = [...(config.OnBuild ?? []), trigger];
      return { kind: 'meta', config, createdBy: NOP(config, `ONBUILD ${trigger}`) };
    }
    case 'RUN':
      return planRun(s, i, ctx, config);
    case 'COPY':
    case 'ADD':
      return planCopy(s, i, ctx, config, word);
    case 'FROM':
      throw new EngineError('internal', 'ERR_INTERNAL', 'FROM is planned by the builder');
    default:
      throw invalid(`unknown instruction: ${i.keyword}`);
  }
}

function planRun(s: StageState, i: Instruction, ctx: PlanContext, config: BuildConfig): StepAction {
  for (const f of i.flags.keys()) if (!RUN_FLAGS.has(f)) throw invalid(`Unknown flag: ${f}`);
  let cmd: string[];
  const json = i.heredocs.length === 0 ? parseJsonForm(i.args) : undefined;
  if (json !== undefined) cmd = json;
  else if (i.heredocs.length > 0) {
    // BuildKit's rule: a lone here-document is the script; otherwise the shell gets it all.
    const lone = /^<<-?(["']?)([^\s"']+)\1$/.exec(i.args.trim());
    if (lone && i.heredocs.length === 1) cmd = [...shellOf(config), i.heredocs[0]!.content];
    else cmd = [...shellOf(config), [i.args, ...i.heredocs.map((h) => `${h.content}${h.name}`)].join('\n')];
  } else cmd = [...shellOf(config), i.args];
  if (cmd.length === 0) throw invalid('RUN requires at least one argument');
  // Declared ARGs with values are in the step's environment (ENV wins); so are the proxy
  // variables given as build args, which stay out of the history and the cache key.
  const envKeys = new Set((config.Env ?? []).map((e) => e.split('=')[0]!));
  const argEnv: string[] = [];
  const usedArgs: string[] = [];
  for (const [k, v] of s.args) {
    if (v === undefined || envKeys.has(k)) continue;
    argEnv.push(`${k}=${v}`);
    if (!PREDEFINED_ARGS.has(k)) usedArgs.push(`${k}=${v}`);
  }
  for (const [k, v] of ctx.buildArgs) {
    if (PREDEFINED_ARGS.has(k) && v !== null && !s.args.has(k) && !envKeys.has(k)) argEnv.push(`${k}=${v}`);
  }
  usedArgs.sort();
  const prefix = usedArgs.length > 0 ? `|${usedArgs.length} ${usedArgs.join(' ')} ` : '';
  return { kind: 'run', config, cmd, env: [...(config.Env ?? []), ...argEnv], createdBy: `${prefix}${cmd.join(' ')}`, usedArgs };
}

function planCopy(s: StageState, i: Instruction, ctx: PlanContext, config: BuildConfig, word: (w: string) => string): StepAction {
  const add = i.keyword === 'ADD';
  for (const f of i.flags.keys()) {
    if (!['chown', 'chmod', ...(add ? [] : ['from'])].includes(f)) throw invalid(`Unknown flag: ${f}`);
  }
  let list = parseJsonForm(i.args) ?? i.args.split(/\s+/).filter((w) => w !== '');
  list = list.map(word);
  const heredocs = i.heredocs.map((h) => ({ name: h.name, content: h.content }));
  const heredocNames = new Set(heredocs.map((h) => h.name));
  const isHeredocSource = (src: string): boolean => {
    const m = /^<<-?(["']?)([^\s"']+)\1$/.exec(src);
    return m !== null && heredocNames.has(m[2]!);
  };
  if (list.length < 2) throw invalid(`${i.keyword} requires at least two arguments, but only one was provided. Destination could not be determined.`);
  const sources = list.slice(0, -1);
  let destRaw = list[list.length - 1]!;
  if (sources.some((x) => !isHeredocSource(x)) && heredocs.length > 0 && sources.every(isHeredocSource) === false && sources.filter(isHeredocSource).length !== heredocs.length) {
    throw invalid(`${i.keyword}: every here-document must be a source`);
  }
  const dirLike = destRaw.endsWith('/') || destRaw === '.' || destRaw.endsWith('/.');
  if (sources.length > 1 && !dirLike) throw invalid(`When using ${i.keyword} with more than one source file, the destination must be a directory and end with a /`);
  if (destRaw === '') throw invalid(`${i.keyword} requires a destination`);
  let dest = joinPath(config.WorkingDir || '/', destRaw);
  if (dirLike && dest !== '/') dest += '/';
  destRaw = dest;
  const chmodText = i.flags.get('chmod');
  let chmod: number | undefined;
  if (chmodText !== undefined) {
    if (!/^[0-7]{3,4}$/.test(chmodText)) throw invalid(`invalid chmod parameter ${JSON.stringify(chmodText)}: an octal mode like 755 is required`);
    chmod = parseInt(chmodText, 8);
  }
  const chownText = i.flags.get('chown');
  const chown = chownText === undefined || chownText === '' ? undefined : word(chownText);
  const fromText = i.flags.get('from');
  const from = fromText === undefined || fromText === '' ? undefined : word(fromText);
  const copy: CopyRequest = { add, sources, dest: destRaw, chown, chmod, from, heredocs };
  return { kind: 'copy', config, copy, createdBy: `${shellOf(config).join(' ')} #(nop) ${i.keyword} ${sources.join(' ')} in ${destRaw} ` };
}

/** A new stage's state from its base image config; ONBUILD triggers are returned and cleared. */
export function startStage(base: BuildConfig | undefined): { state: StageState; triggers: string[] } {
  const config = base ? cloneConfig(base) : {};
  const triggers = config.OnBuild ?? [];
  config.OnBuild = null;
  return { state: { config, args: new Map(), cmdSet: false }, triggers };
}

/** `--build-arg`s no stage declared (Docker warns about them at the end). */
export function unusedBuildArgs(buildArgs: ReadonlyMap<string, string | null>, used: ReadonlySet<string>): string[] {
  return [...buildArgs.keys()].filter((k) => !used.has(k) && !PREDEFINED_ARGS.has(k)).sort();
}
