// The entry of the seccomp listener program as bin/moat-seccomp-listener runs it: bundled by
// scripts/bundle-listener.mjs into dist/bundle/, one file for Node to load instead of ~130
// modules. The listener and its standby are started again after every idle spell, on the
// path of the next container's start (docs/performance.md, phase L).
import { pino, destination } from 'pino';
import { usePino } from '../base/index.js';

usePino({ pino, destination });

export { main } from './main.js';
