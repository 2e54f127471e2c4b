// Docker's JSON progress messages (moby pkg/jsonmessage, pkg/progress, pkg/streamformatter):
// one object per line, `id` names the line the CLI redraws. Pure.

/** One line of a progress stream. */
export interface ProgressMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  stream?: string;
  aux?: unknown;
  errorDetail?: { message: string };
  error?: string;
}

/** A sink for progress messages (the route writes them to the response). */
export type ProgressSink = (m: ProgressMessage) => void;

/** go-units HumanSize: decimal units, 4 significant digits (`1.234MB`). */
export function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** The pre-rendered bar Docker still sends (`[==>    ]  1.2MB/3.4MB`). */
export function progressBar(current: number, total: number): string {
  const width = 50;
  if (total <= 0) return `${humanSize(current)}`;
  const filled = Math.min(width, Math.floor((current / total) * width));
  const bar = filled >= width ? '='.repeat(width) : `${'='.repeat(Math.max(0, filled - 1))}>${' '.repeat(width - Math.max(1, filled))}`;
  return `[${bar}] ${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

/** The 12-character id Docker shows for a layer: the digest's hex, truncated. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/** A status line for one layer, e.g. `Pull complete`. */
export function layerStatus(id: string, status: string): ProgressMessage {
  return { status, progressDetail: {}, id };
}

/** A progress line for one layer (`Downloading`, `Extracting`, `Pushing`). */
export function layerProgress(id: string, status: string, current: number, total: number): ProgressMessage {
  return { status, progressDetail: { current, total }, progress: progressBar(current, total), id };
}

/** The stream's error line: the CLI fails on `errorDetail`. */
export function errorMessage(message: string): ProgressMessage {
  return { errorDetail: { message }, error: message };
}

/**
 * Rate-limits progress lines per layer: at most one per `intervalMs`, plus the last one.
 *
 * @example
 * const t = new ProgressThrottle(sink, 100); t.progress(id, 'Downloading', n, total);
 */
export class ProgressThrottle {
  readonly #last = new Map<string, number>();
  constructor(
    readonly sink: ProgressSink,
    readonly intervalMs = 100,
    readonly now: () => number = Date.now,
  ) {}
  progress(id: string, status: string, current: number, total: number): void {
    const t = this.now();
    const prev = this.#last.get(id) ?? 0;
    if (current < total && t - prev < this.intervalMs) return;
    this.#last.set(id, t);
    this.sink(layerProgress(id, status, current, total));
  }
}
