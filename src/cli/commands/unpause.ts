// `moat unpause CONTAINER…`
import type { Command } from 'commander';
import { registerPerContainerVerb, type CliContext } from '../common.js';

export function registerUnpauseCommand(program: Command, ctx: CliContext): void {
  registerPerContainerVerb(program, ctx, { name: 'unpause', description: 'unpause containers', method: 'POST', path: (id) => `/containers/${id}/unpause` });
}
