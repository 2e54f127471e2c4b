// `moat rm [-f] [-v] CONTAINER…`
import type { Command } from 'commander';
import { registerPerContainerVerb, type CliContext } from '../common.js';

export function registerRmCommand(program: Command, ctx: CliContext): void {
  registerPerContainerVerb(program, ctx, {
    name: 'rm',
    description: 'remove containers',
    method: 'DELETE',
    path: (id, o) => `/containers/${id}?force=${o['force'] ? 1 : 0}&v=${o['volumes'] ? 1 : 0}`,
    options: (cmd) => cmd.option('-f, --force', 'kill a running container first').option('-v, --volumes', 'remove anonymous volumes'),
  });
}
