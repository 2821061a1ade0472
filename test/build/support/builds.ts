/** Helpers for the builds tests: context tars, multipart bodies, following a build's events. */
import { fileURLToPath } from 'node:url';
import tar from 'tar-stream';
import { request } from 'undici';

/** The compiled test engine, for CAIRN_TEST_BUILD_ENGINE. */
export const TEST_ENGINE = fileURLToPath(new URL('./test-engine.js', import.meta.url));

export async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mtime: new Date(0) }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A multipart/form-data body with the given parts in order. */
export function multipart(parts: Array<{ name: string; content: string | Buffer; filename?: string; type?: string }>): { body: Buffer; contentType: string } {
  const boundary = `----cairn-test-${Math.random().toString(36).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\nContent-Type: ${part.type ?? 'application/octet-stream'}\r\n\r\n`));
    chunks.push(Buffer.isBuffer(part.content) ? part.content : Buffer.from(part.content));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export async function buildBody(request: object, files: Record<string, string | Buffer>): Promise<{ body: Buffer; contentType: string }> {
  return multipart([
    { name: 'request', content: JSON.stringify(request), type: 'application/json' },
    { name: 'context', content: await tarOf(files), filename: 'context.tar', type: 'application/x-tar' },
  ]);
}

export interface ReceivedEvent {
  readonly at: number;
  readonly line: Record<string, any>;
}

/** Follows GET /builds/{id}/events to its end; every line with the time it arrived. */
export async function followEvents(base: string, id: string, headers: Record<string, string>, after = 0): Promise<ReceivedEvent[]> {
  const response = await request(`${base}/api/v1/builds/${id}/events?after=${after}`, { headers });
  if (response.statusCode !== 200) throw new Error(`events: ${response.statusCode} ${await response.body.text()}`);
  const received: ReceivedEvent[] = [];
  let buffered = '';
  for await (const chunk of response.body) {
    buffered += (chunk as Buffer).toString('utf8');
    let newline: number;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      received.push({ at: performance.now(), line: JSON.parse(buffered.slice(0, newline)) });
      buffered = buffered.slice(newline + 1);
    }
  }
  return received;
}
