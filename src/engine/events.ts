// The events bus behind `docker events`: a bounded history for since/until queries and
// live subscribers.
import { EventEmitter } from 'node:events';

export interface EngineEvent {
  Type: 'container' | 'image' | 'volume' | 'network' | 'daemon';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  /** Deprecated fields the CLI still prints for containers and images. */
  status?: string;
  id?: string;
  from?: string;
}

const HISTORY = 1024;

export class EventBus {
  #history: EngineEvent[] = [];
  #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  emit(type: EngineEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    const nowNs = BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
    const ev: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      ev.status = action;
      ev.id = id;
      if (attributes['image'] !== undefined) ev.from = attributes['image'];
    }
    this.#history.push(ev);
    if (this.#history.length > HISTORY) this.#history.shift();
    this.#emitter.emit('event', ev);
    return ev;
  }

  /** Stored events with sinceNs <= timeNano <= untilNs. */
  history(sinceNs: number | undefined, untilNs: number | undefined): EngineEvent[] {
    return this.#history.filter((e) => (sinceNs === undefined || e.timeNano >= sinceNs) && (untilNs === undefined || e.timeNano <= untilNs));
  }

  subscribe(listener: (ev: EngineEvent) => void): () => void {
    this.#emitter.on('event', listener);
    return () => this.#emitter.off('event', listener);
  }
}
