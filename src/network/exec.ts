// Run a host command with an argv array (never a shell), optional stdin and a timeout.
import { spawn } from 'node:child_process';
import { EngineError } from '../base/index.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Run `argv` and collect its output; resolves whatever the exit code (callers decide),
 * rejects only when the program cannot be started or outlives `timeoutMs`.
 */
export async function runCommand(argv: readonly string[], o: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new EngineError('internal', 'ERR_INTERNAL', 'runCommand: empty argv');
  return await new Promise<CommandResult>((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH, ...o.env },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new EngineError('internal', 'ERR_NETWORK_COMMAND', `Cannot run ${file}: no answer within ${o.timeoutMs ?? 30_000} ms`));
    }, o.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new EngineError('internal', 'ERR_NETWORK_COMMAND', `Cannot run ${file}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal !== null ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
  });
}

/** Run and throw 'internal' naming the command when it fails. */
export async function runChecked(argv: readonly string[], o: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CommandResult> {
  const r = await runCommand(argv, o);
  if (r.code !== 0) {
    throw new EngineError('internal', 'ERR_NETWORK_COMMAND', `Cannot run ${argv.join(' ')}: exit ${r.code}: ${cleanStderr(r.stderr) || r.stdout.trim()}`);
  }
  return r;
}

/** iptables-nft warns on every call while legacy tables exist; that line is not an error. */
export function cleanStderr(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('# Warning: iptables-legacy tables present'))
    .join('; ')
    .trim();
}
