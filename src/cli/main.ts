// `moat`: docker-like verbs over the Engine API, plus moat's own `seccomp` and `authz`.
// Each verb lives in commands/<verb>.ts; this file wires them to commander and turns errors
// into exit codes. Exit codes follow the docker CLI: 125 for daemon/flag errors of
// run/create, 126/127 when the command cannot be run or found, otherwise the container's or
// exec's code.
import { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { Client, parseHost } from './client.js';
import { ExitError, daemonError, type CliContext } from './common.js';
import { registerAuthzCommands } from './commands/authz.js';
import { registerCreateCommand } from './commands/create.js';
import { registerEventsCommand } from './commands/events.js';
import { registerExecCommand } from './commands/exec.js';
import { registerImagesCommand } from './commands/images.js';
import { registerImportCommand } from './commands/import.js';
import { registerInfoCommand } from './commands/info.js';
import { registerInspectCommand } from './commands/inspect.js';
import { registerKillCommand } from './commands/kill.js';
import { registerLogsCommand } from './commands/logs.js';
import { registerPauseCommand } from './commands/pause.js';
import { registerPsCommand } from './commands/ps.js';
import { registerRenameCommand } from './commands/rename.js';
import { registerRestartCommand } from './commands/restart.js';
import { registerRmCommand } from './commands/rm.js';
import { registerRmiCommand } from './commands/rmi.js';
import { registerRunCommand } from './commands/run.js';
import { registerSeccompCommands } from './commands/seccomp.js';
import { registerStartCommand } from './commands/start.js';
import { registerStopCommand } from './commands/stop.js';
import { registerTagCommand } from './commands/tag.js';
import { registerTopCommand } from './commands/top.js';
import { registerUnpauseCommand } from './commands/unpause.js';
import { registerVersionCommand } from './commands/version.js';
import { registerWaitCommand } from './commands/wait.js';

function clientOf(program: Command): Client {
  const host = (program.opts()['host'] as string | undefined) ?? process.env['MOAT_HOST'] ?? process.env['DOCKER_HOST'] ?? 'unix:///run/moat/moat.sock';
  return new Client(parseHost(host));
}

export function buildProgram(): { program: Command; exitCode: () => number } {
  let exitCode = 0;
  const program = new Command('moat')
    .description('moat: a security-first container engine (Docker Engine API client)')
    .version('0.1.0')
    .option('-H, --host <addr>', 'daemon socket (default $DOCKER_HOST or unix:///run/moat/moat.sock)')
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride();
  const ctx: CliContext = { client: () => clientOf(program), setExit: (n) => (exitCode = n) };
  // In this order in `moat --help`.
  for (const register of [
    registerRunCommand, registerCreateCommand, registerStartCommand, registerStopCommand, registerRestartCommand,
    registerKillCommand, registerRmCommand, registerPauseCommand, registerUnpauseCommand, registerRenameCommand,
    registerWaitCommand, registerLogsCommand, registerPsCommand, registerInspectCommand, registerExecCommand,
    registerTopCommand, registerImagesCommand, registerImportCommand, registerTagCommand, registerRmiCommand,
    registerVersionCommand, registerInfoCommand, registerEventsCommand,
  ]) register(program, ctx);
  registerSeccompCommands(program, { ...ctx, readFile: (p) => readFileSync(p, 'utf8'), writeFile: (p, d) => writeFileSync(p, d) });
  registerAuthzCommands(program, ctx);
  return { program, exitCode: () => exitCode };
}

export async function main(argv: string[]): Promise<void> {
  // `moat … | head`: a closed pipe ends the output quietly, as the docker CLI does.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const { program, exitCode } = buildProgram();
  // If the event loop ever runs dry while a command still waits (a stream that ended before
  // anyone listened), say so and exit 125 instead of Node's silent unsettled-await exit 13.
  let settled = false;
  process.once('beforeExit', () => {
    if (settled) return;
    process.stderr.write('moat: internal error: the command was still waiting when nothing was left to wait for\n');
    process.exit(125);
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    process.exitCode = exitCode();
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
      process.exitCode = 0;
      return;
    }
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // Flag errors: docker exits 125.
      process.exitCode = 125;
      return;
    }
    if (err instanceof ExitError) {
      if (err.message) process.stderr.write(`${err.message}\n`);
      process.exitCode = err.code;
      return;
    }
    process.stderr.write(`${daemonError(err).message}\n`);
    process.exitCode = 1;
  } finally {
    settled = true;
  }
}
