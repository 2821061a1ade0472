/**
 * How a build's events are shown. `plain` prints BuildKit's plain format line by line, so CI logs
 * read as with `docker buildx build --progress plain`:
 *
 *   #1 [internal] load build definition from Dockerfile
 *   #1 DONE 0.0s
 *
 *   #2 [1/2] FROM scratch
 *   #2 CACHED
 *
 *   #3 [2/2] RUN make
 *   #3 0.412 compiling…
 *   #3 ERROR: process "/bin/sh -c make" did not complete successfully: exit code: 2
 *
 * (output lines carry the seconds since their step started). `tty` redraws a live view: one line
 * per step with its state and time, the running step's last output line under it.
 */

/** The events as the server sends them (the client's own copy: it loads no server code). */
export type BuildEventLine =
  | { seq: number; type: 'vertex'; id: number; name: string }
  | { seq: number; type: 'cached'; id: number }
  | { seq: number; type: 'log'; id: number; stream: 'stdout' | 'stderr'; text: string }
  | { seq: number; type: 'done'; id: number; durationMs: number }
  | { seq: number; type: 'error'; id: number; message: string }
  | { seq: number; type: 'result'; result: BuildResultLine };

export interface BuildResultLine {
  status: 'succeeded' | 'failed' | 'cancelled';
  error?: string;
  images: Array<{ reference: string; digest: string }>;
  cache: Array<{ step: string; hit: boolean; reason?: { kind: string; detail?: string; name?: string; path?: string } }>;
  durationMs: number;
}

export interface Progress {
  event(event: BuildEventLine): void;
  end(): void;
}

export class PlainProgress implements Progress {
  private last: number | undefined;
  private readonly started = new Map<number, number>();
  private readonly partial = new Map<number, string>();

  constructor(
    private readonly write: (text: string) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  event(event: BuildEventLine): void {
    if (event.type === 'result') return;
    if (event.type === 'vertex') {
      this.started.set(event.id, this.now());
      this.switchTo(event.id);
      this.write(`#${event.id} ${event.name}\n`);
      return;
    }
    this.switchTo(event.id);
    switch (event.type) {
      case 'cached':
        this.write(`#${event.id} CACHED\n`);
        break;
      case 'log': {
        const text = (this.partial.get(event.id) ?? '') + event.text;
        const lines = text.split('\n');
        this.partial.set(event.id, lines.pop()!);
        const at = ((this.now() - (this.started.get(event.id) ?? this.now())) / 1000).toFixed(3);
        for (const line of lines) this.write(`#${event.id} ${at} ${line}\n`);
        break;
      }
      case 'done':
        this.flushPartial(event.id);
        this.write(`#${event.id} DONE ${(event.durationMs / 1000).toFixed(1)}s\n`);
        break;
      case 'error':
        this.flushPartial(event.id);
        this.write(`#${event.id} ERROR: ${event.message}\n`);
        break;
    }
  }

  end(): void {
    if (this.last !== undefined) this.write('\n');
  }

  private switchTo(id: number): void {
    if (this.last !== undefined && this.last !== id) this.write('\n');
    this.last = id;
  }

  private flushPartial(id: number): void {
    const rest = this.partial.get(id);
    if (!rest) return;
    this.partial.delete(id);
    const at = ((this.now() - (this.started.get(id) ?? this.now())) / 1000).toFixed(3);
    this.write(`#${id} ${at} ${rest}\n`);
  }
}

/** A live view for a terminal: redrawn in place at most ten times a second. */
export class TtyProgress implements Progress {
  private readonly steps: Array<{ id: number; name: string; state: string; started: number; ended?: number; lastLine?: string }> = [];
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  event(event: BuildEventLine): void {
    if (event.type === 'result') return;
    if (event.type === 'vertex') {
      this.steps.push({ id: event.id, name: event.name, state: 'running', started: performance.now() });
    } else {
      const step = this.steps.find((s) => s.id === event.id);
      if (!step) return;
      if (event.type === 'cached') Object.assign(step, { state: 'CACHED', ended: performance.now() });
      else if (event.type === 'done') Object.assign(step, { state: 'DONE', ended: performance.now() });
      else if (event.type === 'error') Object.assign(step, { state: 'ERROR', ended: performance.now(), lastLine: event.message });
      else step.lastLine = event.text.trimEnd().split('\n').pop();
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, 100);
  }

  end(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.draw();
  }

  private draw(): void {
    const width = Math.max(20, (this.stream.columns ?? 100) - 1);
    const lines = this.steps.flatMap((s) => {
      const seconds = (((s.ended ?? performance.now()) - s.started) / 1000).toFixed(1);
      const head = `${s.state === 'running' ? '=>' : s.state === 'ERROR' ? '!!' : ' ✔'} #${s.id} ${s.name}`.slice(0, width - 8);
      const line = `${head.padEnd(width - 8)}${`${s.state === 'CACHED' ? 'CACHED' : `${seconds}s`}`.padStart(8)}`;
      return s.lastLine && (s.state === 'running' || s.state === 'ERROR') ? [line, `   ${s.lastLine}`.slice(0, width)] : [line];
    });
    const up = this.drawn > 0 ? `\x1b[${this.drawn}F` : '';
    this.stream.write(`${up}${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`);
    this.drawn = lines.length;
  }
}

/** The cache report and the outcome, after the build. */
export function describeResult(result: BuildResultLine): string {
  const lines = [`cache: ${result.cache.filter((c) => c.hit).length} of ${result.cache.length} steps cached`];
  for (const entry of result.cache) lines.push(`  ${entry.hit ? 'CACHED' : 'MISS  '}  ${entry.step}${entry.hit || !entry.reason ? '' : `  (${describeMiss(entry.reason)})`}`);
  const seconds = (result.durationMs / 1000).toFixed(3);
  if (result.status === 'succeeded') {
    for (const image of result.images) lines.push(`pushed ${image.reference}@${image.digest}`);
    lines.push(`build succeeded in ${seconds}s (server-side)`);
  } else {
    lines.push(`build ${result.status} after ${seconds}s (server-side)${result.error ? `: ${result.error}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

function describeMiss(reason: { kind: string; detail?: string; name?: string; path?: string }): string {
  switch (reason.kind) {
    case 'no-cache':
      return '--no-cache';
    case 'instruction':
      return `the instruction changed${reason.detail ? `: ${reason.detail}` : ''}`;
    case 'build-arg':
      return `build arg ${reason.name} changed`;
    case 'file':
      return `${reason.path} changed`;
    case 'parent':
      return 'an earlier step changed';
    default:
      return 'not built before';
  }
}
