/**
 * A port of the HTTP client the OCI conformance suite uses: github.com/bloodorangeio/reggie (v0.6, on
 * go-resty/resty v2) over Go's net/http. What goes on the wire is reproduced, not just the method and path,
 * because that is what the registry under test sees:
 *
 * - `NewRequest(method, path, WithName/WithReference/WithDigest)` fills `<name>` (OCI_NAMESPACE unless
 *   WithName), `<reference>`, `<digest>`; a placeholder left unfilled makes `Do` fail ("request is invalid").
 * - `SetQueryParam` values are appended to a query already in the path (`?` or `&` + Go's sorted
 *   `url.Values.Encode()`), as resty does with a Location that carries its own query.
 * - `SetBody` wraps the bytes in an `ioutil.NopCloser`, so Go cannot know the length: every body goes out
 *   with `Transfer-Encoding: chunked`, and a `Content-Length` set with `SetHeader` is dropped by Go's request
 *   writer. A POST/PUT/PATCH without a body carries `Content-Length: 0`; GET/HEAD/DELETE carry none. A GET
 *   with a body (the suite has one) sends it, chunked.
 * - resty sets `Accept` to the Content-Type when that is a JSON type (`...+json`) and no Accept was given.
 * - Go adds `Accept-Encoding: gzip` (not on HEAD or with a Range header) and transparently gunzips.
 * - `User-Agent: distribution-spec-conformance-tests`; redirects are followed as Go's default client does.
 * - `GetRelativeLocation()` is the Location's decoded path plus its raw query; `GetAbsoluteLocation()` the
 *   header as is. `Header().Get` is the first value of a header.
 */
import { Agent, request as nodeRequest, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';

export const USER_AGENT = 'distribution-spec-conformance-tests';
const TIMEOUT_MS = 60_000;

export interface RequestOptions {
  name?: string;
  reference?: string;
  digest?: string;
  sessionId?: string;
}
export const WithName = (name: string): RequestOptions => ({ name });
export const WithReference = (reference: string): RequestOptions => ({ reference });
export const WithDigest = (digest: string): RequestOptions => ({ digest });

export class Request {
  readonly headers = new Map<string, { name: string; value: string }>();
  readonly query = new Map<string, string>();
  body: Buffer | undefined;

  constructor(
    readonly method: string,
    readonly url: string,
  ) {}

  /** http.Header.Set: one value per (case-insensitive) name. */
  SetHeader(name: string, value: string): this {
    this.headers.set(name.toLowerCase(), { name, value });
    return this;
  }

  SetQueryParam(name: string, value: string): this {
    this.query.set(name, value);
    return this;
  }

  SetBody(body: Buffer | string): this {
    this.body = Buffer.isBuffer(body) ? body : Buffer.from(body);
    return this;
  }

  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.value;
  }
}

export class Response {
  constructor(
    readonly request: { method: string; url: string },
    private readonly statusCode: number,
    private readonly rawHeaders: string[],
    readonly body: Buffer,
  ) {}

  StatusCode(): number {
    return this.statusCode;
  }

  /** Header().Get(name): the first value, or "" when absent. */
  Header(name: string): string {
    const lower = name.toLowerCase();
    for (let i = 0; i < this.rawHeaders.length; i += 2) {
      if (this.rawHeaders[i]!.toLowerCase() === lower) return this.rawHeaders[i + 1]!;
    }
    return '';
  }

  String(): string {
    return this.body.toString('utf8');
  }

  GetRelativeLocation(): string {
    const location = this.Header('Location');
    const parsed = goParseURL(location);
    if (!parsed) return '';
    return parsed.rawQuery ? `${parsed.path}?${parsed.rawQuery}` : parsed.path;
  }

  GetAbsoluteLocation(): string {
    return this.Header('Location');
  }

  /** For failure messages: what was asked and what came back. */
  describe(): string {
    const body = this.body.length > 400 ? `${this.body.subarray(0, 400).toString('utf8')}…` : this.body.toString('utf8');
    const headers: string[] = [];
    for (let i = 0; i < this.rawHeaders.length; i += 2) headers.push(`${this.rawHeaders[i]}: ${this.rawHeaders[i + 1]}`);
    return `${this.request.method} ${this.request.url} -> ${this.statusCode}\n  ${headers.join('\n  ')}\n  body: ${body}`;
  }
}

export class Client {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });

  constructor(
    private readonly address: () => string,
    readonly Config: { DefaultName: string },
  ) {}

  NewRequest(method: string, path: string, ...opts: RequestOptions[]): Request {
    const o: RequestOptions = Object.assign({}, ...opts);
    const name = o.name || this.Config.DefaultName;
    const replacements: Array<[string, string | undefined]> = [
      ['<name>', name],
      ['<reference>', o.reference],
      ['<digest>', o.digest],
      ['<session_id>', o.sessionId],
    ];
    for (const [placeholder, value] of replacements) {
      if (value) path = path.split(placeholder).join(value);
    }
    path = path.replace(/^\//, '');
    return new Request(method, `${this.address().replace(/\/$/, '')}/${path}`);
  }

  async Do(req: Request): Promise<Response> {
    if (/<name>|<reference>|<digest>|<session_id>|\/\/{2,}/.test(req.url)) throw new Error(`request is invalid: ${req.url}`);
    let url = req.url;
    if (req.query.size > 0) {
      const encoded = [...req.query.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => `${goQueryEscape(k)}=${goQueryEscape(v)}`)
        .join('&');
      const hashless = url.split('#')[0]!;
      url = hashless.includes('?') && !hashless.endsWith('?') ? `${hashless}&${encoded}` : `${hashless.replace(/\?$/, '')}?${encoded}`;
    }

    const headers: Record<string, string> = {};
    for (const { name, value } of req.headers.values()) {
      const lower = name.toLowerCase();
      // Go's Request.write never copies these from the header map.
      if (lower === 'content-length' || lower === 'transfer-encoding' || lower === 'trailer' || lower === 'user-agent' || lower === 'host') continue;
      headers[canonicalHeaderKey(name)] = value;
    }
    headers['User-Agent'] = req.header('User-Agent') ?? USER_AGENT;
    const contentType = req.header('Content-Type');
    if (!req.header('Accept') && contentType && (isJSONType(contentType) || isXMLType(contentType))) headers['Accept'] = contentType;

    let method = req.method;
    let body = req.body;
    let addedGzip = false;
    for (let redirects = 0; ; redirects++) {
      const sendHeaders = { ...headers };
      addedGzip = false;
      if (!('Accept-Encoding' in sendHeaders) && !('Range' in sendHeaders) && method !== 'HEAD') {
        sendHeaders['Accept-Encoding'] = 'gzip';
        addedGzip = true;
      }
      if (body !== undefined) sendHeaders['Transfer-Encoding'] = 'chunked';
      else if (method === 'POST' || method === 'PUT' || method === 'PATCH') sendHeaders['Content-Length'] = '0';

      const raw = await send(this.agent, method, url, sendHeaders, body);
      const status = raw.message.statusCode ?? 0;
      const location = headerOf(raw.message.rawHeaders, 'location');
      const redirectable = [301, 302, 303, 307, 308].includes(status) && location !== '';
      // Go's client follows redirects; a body it cannot replay (no GetBody) stops a 307/308.
      if (redirectable && redirects < 10 && !((status === 307 || status === 308) && body !== undefined)) {
        url = new URL(location, url).toString();
        if (status === 301 || status === 302 || status === 303) {
          if (method !== 'GET' && method !== 'HEAD') method = 'GET';
          body = undefined;
        }
        continue;
      }
      let responseBody = raw.body;
      const rawHeaders = [...raw.message.rawHeaders];
      if (addedGzip && headerOf(rawHeaders, 'content-encoding').toLowerCase() === 'gzip' && responseBody.length > 0) {
        responseBody = gunzipSync(responseBody);
        for (let i = rawHeaders.length - 2; i >= 0; i -= 2) {
          const h = rawHeaders[i]!.toLowerCase();
          if (h === 'content-encoding' || h === 'content-length') rawHeaders.splice(i, 2);
        }
      }
      return new Response({ method: req.method, url }, status, rawHeaders, responseBody);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

function send(
  agent: Agent,
  method: string,
  url: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
): Promise<{ message: IncomingMessage; body: Buffer }> {
  const target = new URL(url);
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  // The path as built, not WHATWG-normalised; bytes Go would escape on the wire are escaped here too.
  const path = (slash === -1 ? '/' : url.slice(slash)).replace(/[^\x21-\x7e]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
  return new Promise((resolve, reject) => {
    const req = nodeRequest(
      {
        agent,
        host: target.hostname,
        port: target.port,
        method,
        path,
        headers,
        timeout: TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ message: res, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    if (body !== undefined && body.length > 0) req.write(body);
    req.end();
  });
}

function headerOf(rawHeaders: string[], name: string): string {
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) return rawHeaders[i + 1]!;
  return '';
}

/** textproto.CanonicalMIMEHeaderKey, as http.Header.Set writes names. */
function canonicalHeaderKey(name: string): string {
  return name
    .toLowerCase()
    .split('-')
    .map((part) => (part ? part[0]!.toUpperCase() + part.slice(1) : part))
    .join('-');
}

// resty v2: jsonCheck / xmlCheck
function isJSONType(ct: string): boolean {
  return /(application|text)\/(json|.*\+json|json-.*)(;|$)/i.test(ct);
}
function isXMLType(ct: string): boolean {
  return /(application|text)\/(xml|.*\+xml)(;|$)/i.test(ct);
}

/** url.QueryEscape: everything but unreserved characters escaped, space as '+'. */
export function goQueryEscape(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~]/.test(ch)) out += ch;
    else if (ch === ' ') out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Enough of url.Parse for a Location header: the (unescaped) path and the raw query; null when Go errs. */
function goParseURL(raw: string): { path: string; rawQuery: string } | null {
  let rest = raw;
  const hash = rest.indexOf('#');
  if (hash !== -1) rest = rest.slice(0, hash);
  let rawQuery = '';
  const q = rest.indexOf('?');
  if (q !== -1) {
    rawQuery = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(rest);
  if (scheme) rest = rest.slice(scheme[0].length);
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    rest = slash === -1 ? '' : rest.slice(slash);
  }
  try {
    return { path: decodeURIComponent(rest), rawQuery };
  } catch {
    return null; // invalid escape: url.Parse fails, GetRelativeLocation returns ""
  }
}
