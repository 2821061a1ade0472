/**
 * AWS Signature Version 4 for S3, by @smithy/signature-v4 (the signer the AWS SDK itself uses).
 *
 * S3 specifics: the path is signed as sent (S3 does not double-encode it, hence
 * `uriEscapePath: false`), and bodies are never hashed for the signature — every request carries
 * `x-amz-content-sha256: UNSIGNED-PAYLOAD`, which S3 and radosgw accept. Cairn verifies blob
 * digests itself; hashing each part again only to sign it would cost a second pass over the
 * bytes. No `aws-chunked` encoding and no `x-amz-checksum-*` headers either: older radosgw
 * versions reject them.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** What is signed: everything but the body. `path` is already URI-encoded. */
export interface SignableRequest {
  readonly method: string;
  readonly url: URL;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: Record<string, string>;
}

const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export class S3Signer {
  private readonly signer: SignatureV4;

  constructor(credentials: Credentials, region: string) {
    this.signer = new SignatureV4({
      service: 's3',
      region,
      credentials: { ...credentials },
      sha256: NodeSha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  /** The request's headers plus `authorization`, `x-amz-date` and the payload marker. */
  async sign(request: SignableRequest): Promise<Record<string, string>> {
    const signed = await this.signer.sign(this.toSmithy(request, { 'x-amz-content-sha256': UNSIGNED_PAYLOAD }));
    return signed.headers as Record<string, string>;
  }

  /** A URL anyone can GET for `expiresIn` seconds (credentials travel in the query string). */
  async presign(request: SignableRequest, expiresIn: number): Promise<string> {
    const signed = await this.signer.presign(this.toSmithy(request, { 'x-amz-content-sha256': UNSIGNED_PAYLOAD }), { expiresIn });
    const url = new URL(request.url);
    url.search = encodeQuery(signed.query as Record<string, string>);
    return url.toString();
  }

  private toSmithy(request: SignableRequest, extra: Record<string, string>) {
    const { url } = request;
    return {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: request.path,
      query: { ...request.query },
      headers: { host: url.host, ...request.headers, ...extra },
    };
  }
}

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters. */
function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** An object key as a URL path: each segment encoded, slashes kept. */
export function escapeKey(key: string): string {
  return key.split('/').map(escapeUri).join('/');
}

export function encodeQuery(query: Record<string, string>): string {
  return Object.keys(query)
    .sort()
    .map((k) => (query[k] === '' ? escapeUri(k) : `${escapeUri(k)}=${escapeUri(query[k]!)}`))
    .join('&');
}

/** The hash interface @smithy expects, on node:crypto (HMAC when given a secret). */
class NodeSha256 {
  private readonly hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }

  update(data: SourceData): void {
    this.hash.update(toBytes(data));
  }

  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }

  reset(): void {
    throw new Error('not used');
  }
}

function toBytes(data: SourceData): string | Uint8Array {
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}
