/** A small HTTP client for tests: whole responses, headers lowercased, nothing hidden. */
import { request as nodeRequest } from 'node:http';
import { request as undiciRequest } from 'undici';

export interface TestResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  json<T = any>(): T;
  text(): string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  body?: Buffer | string | AsyncIterable<Uint8Array>;
}

export async function http(method: string, url: string, options: RequestOptions = {}): Promise<TestResponse> {
  const response = await undiciRequest(url, {
    method: method as 'GET',
    headers: options.headers,
    body: options.body as Buffer | undefined,
  });
  const body = Buffer.from(await response.body.arrayBuffer());
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(response.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  return {
    status: response.statusCode,
    headers,
    body,
    json: () => JSON.parse(body.toString('utf8')),
    text: () => body.toString('utf8'),
  };
}

/** The code of the first OCI error in a response body. */
export function errorCode(response: TestResponse): string | undefined {
  try {
    return response.json<{ errors: Array<{ code: string }> }>().errors[0]?.code;
  } catch {
    return undefined;
  }
}

/**
 * Sends the path exactly as given: no URL normalisation, so `..` and `%2E%2E` reach the server
 * (WHATWG URL parsing in fetch/undici would resolve them away).
 */
export function rawHttp(method: string, base: string, path: string, body?: Buffer): Promise<TestResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = nodeRequest({ host: hostname, port, method, path, headers: body ? { 'content-length': body.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const data = Buffer.concat(chunks);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers, body: data, json: () => JSON.parse(data.toString()), text: () => data.toString() });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
