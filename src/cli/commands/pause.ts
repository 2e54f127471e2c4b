// `moat pause CONTAINER…`
import type { Command } from 'commander';
import { registerPerContainerVerb, type CliContext } from '../common.js';

export function registerPauseCommand(program: Command, ctx: CliContext): void {
  registerPerContainerVerb(program, ctx, { name: 'pause', description: 'pause containers', method: 'POST', path: (id) => `/containers/${id}/pause` });
}
