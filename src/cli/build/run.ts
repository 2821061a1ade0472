/**
 * `cairn build`: packs the context, uploads it with the request as multipart (streamed, with a
 * progress bar on a terminal), follows the build's events and ends with the cache report. Exit
 * status: 0 succeeded, 1 failed or cancelled (or the server refused), 2 a usage mistake. Only
 * client code: node's own fetch, tar-stream, and this folder.
 */
import { stat } from 'node:fs/promises';
import { relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { UsageError } from '../errors.js';
import type { ParsedOptions } from '../options.js';
import { contextEntries, packContext } from './context.js';
import { dockerCredentials } from './credentials.js';
import { describeResult, PlainProgress, TtyProgress, type BuildEventLine, type BuildResultLine, type Progress } from './progress.js';

/** The server answered with a refusal: one line, exit status 1. */
export class BuildRefusedError extends Error {
  override readonly name = 'BuildRefusedError';
}

interface Target {
  readonly host: string | undefined;
  readonly reference: string;
}

export async function build(options: ParsedOptions): Promise<void> {
  const v = options.values;
  const contextArg = options.positionals[0];
  if (!contextArg) throw new UsageError('cairn build needs a CONTEXT directory (e.g. cairn build -t 127.0.0.1:5000/app:dev .)');
  const tags = ((v.tag as string[] | undefined) ?? []).map(parseTag);
  if (tags.length === 0) throw new UsageError('cairn build needs at least one -t HOST/REPO:TAG');
  const progressMode = (v.progress as string | undefined) ?? 'auto';
  if (!['plain', 'tty', 'auto'].includes(progressMode)) throw new UsageError(`--progress takes plain, tty or auto, not "${progressMode}"`);
  const buildArgs: Record<string, string> = {};
  for (const arg of (v['build-arg'] as string[] | undefined) ?? []) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new UsageError(`--build-arg takes KEY=VALUE, not "${arg}"`);
    buildArgs[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  const base = registryUrl(v.registry as string | undefined, tags);
  const root = resolve(contextArg);
  if (!(await stat(root).catch(() => undefined))?.isDirectory()) throw new UsageError(`the build context ${contextArg} is not a directory`);
  const dockerfilePath = resolve(root, (v.file as string | undefined) ?? 'Dockerfile');
  const dockerfile = relative(root, dockerfilePath).split(sep).join('/');
  if (dockerfile.startsWith('..')) throw new UsageError(`the Dockerfile ${v.file} must be inside the context ${contextArg}`);
  if (!(await stat(dockerfilePath).catch(() => undefined))?.isFile()) throw new UsageError(`no Dockerfile at ${relative(process.cwd(), dockerfilePath) || dockerfilePath}`);

  const request = {
    tags: tags.map((t) => t.reference),
    dockerfile,
    buildArgs,
    noCache: v['no-cache'] === true,
    ...(v.target ? { target: v.target } : {}),
    ...(v['cache-branch'] ? { cacheBranch: v['cache-branch'] } : {}),
  };
  const authorization = dockerCredentials(new URL(base).host);
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const tty = progressMode === 'tty' || (progressMode === 'auto' && process.stderr.isTTY === true);

  const entries = await contextEntries(root, dockerfile);
  const created = await upload(base, headers, request, packContext(root, entries), process.stderr.isTTY === true);
  const progress: Progress = tty ? new TtyProgress(process.stderr) : new PlainProgress((text) => process.stderr.write(text));
  const result = await follow(base, headers, created.id, progress);
  progress.end();
  process.stderr.write(describeResult(result));
  if (result.status !== 'succeeded') process.exitCode = 1;
}

/** `127.0.0.1:5000/team/app:dev` → host and `team/app:dev`; a reference without a host has none. */
export function parseTag(tag: string): Target {
  const slash = tag.indexOf('/');
  const first = slash === -1 ? '' : tag.slice(0, slash);
  const hasHost = first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[');
  const reference = hasHost ? tag.slice(slash + 1) : tag;
  if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(reference)) {
    throw new UsageError(`-t ${tag}: not HOST/REPO:TAG (a lowercase repository and a tag)`);
  }
  return { host: hasHost ? first : undefined, reference };
}

function registryUrl(option: string | undefined, tags: readonly Target[]): string {
  if (option) {
    const url = /^https?:\/\//.test(option) ? option : `${isLoopback(option) ? 'http' : 'https'}://${option}`;
    try {
      return new URL(url).origin;
    } catch {
      throw new UsageError(`--registry ${option}: not a URL`);
    }
  }
  const hosts = new Set(tags.map((t) => t.host));
  if (hosts.size !== 1 || [...hosts][0] === undefined) throw new UsageError('the tags name no single registry host: give --registry URL, or tags as HOST/REPO:TAG on one host');
  const host = [...hosts][0]!;
  return `${isLoopback(host) ? 'http' : 'https'}://${host}`;
}

function isLoopback(host: string): boolean {
  return /^(localhost|127\.[0-9.]+|\[::1\])(:\d+)?$/.test(host.replace(/^https?:\/\//, ''));
}

/** POST /api/v1/builds: the request part, then the context tar as it is packed. */
async function upload(base: string, headers: Record<string, string>, request: object, context: Readable, showBar: boolean): Promise<{ id: string }> {
  const boundary = `cairn-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  let sent = 0;
  const bar = showBar ? setInterval(() => process.stderr.write(`\r\x1b[Kuploading context ${(sent / 1048576).toFixed(1)} MiB`), 100) : undefined;
  async function* body() {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="request"\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(request)}\r\n`);
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="context"; filename="context.tar"\r\nContent-Type: application/x-tar\r\n\r\n`);
    for await (const chunk of context) {
      sent += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
    yield Buffer.from(`\r\n--${boundary}--\r\n`);
  }
  let response: Response;
  try {
    response = await fetch(`${base}/api/v1/builds`, {
      method: 'POST',
      headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: Readable.toWeb(Readable.from(body())) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
  } catch (error) {
    throw new BuildRefusedError(`cannot reach ${base}: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}`);
  } finally {
    if (bar) {
      clearInterval(bar);
      process.stderr.write(`\r\x1b[Kuploaded context ${(sent / 1048576).toFixed(1)} MiB\n`);
    }
  }
  if (response.status !== 201) throw new BuildRefusedError(await refusal(response, base));
  return (await response.json()) as { id: string };
}

async function refusal(response: Response, base: string): Promise<string> {
  const text = await response.text();
  let message = text.slice(0, 300);
  try {
    message = (JSON.parse(text) as { error: { message: string } }).error.message;
  } catch {
    // not our error shape (a proxy's page): shown as it is
  }
  if (response.status === 401) return `${base} wants credentials: docker login ${new URL(base).host} (${message})`;
  return `the server refused the build (${response.status}): ${message}`;
}

/** Follows the event stream to the build's result, reconnecting from the last seq if it drops. */
async function follow(base: string, headers: Record<string, string>, id: string, progress: Progress): Promise<BuildResultLine> {
  let after = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    const response = await fetch(`${base}/api/v1/builds/${id}/events?after=${after}`, { headers }).catch(() => undefined);
    if (!response || response.status !== 200 || !response.body) {
      if (response && response.status < 500) throw new BuildRefusedError(await refusal(response, base));
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    let buffered = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += Buffer.from(chunk).toString('utf8');
        let newline: number;
        while ((newline = buffered.indexOf('\n')) !== -1) {
          const event = JSON.parse(buffered.slice(0, newline)) as BuildEventLine;
          buffered = buffered.slice(newline + 1);
          after = event.seq;
          if (event.type === 'result') return event.result;
          progress.event(event);
        }
      }
    } catch {
      // the connection dropped: resume from `after`
    }
  }
  throw new BuildRefusedError(`lost the build's event stream (build ${id}); see GET ${base}/api/v1/builds/${id}`);
}
