/**
 * The S3 operations Cairn uses, typed, on top of the transport. Each one states the S3 quirks it
 * copes with; radosgw's (empty ETag from CompleteMultipartUpload, unquoted ETags from copies)
 * are among them.
 */
import type { Readable } from 'node:stream';
import type { ByteRange } from '../blob-store.js';
import type { RequestBody, S3Client } from './client.js';
import { S3ResponseError } from './errors.js';
import { blocks, escapeXml, text, texts } from './xml.js';

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

export interface CompletedPart {
  readonly partNumber: number;
  readonly etag: string;
}

/** ETags compare and travel quoted; radosgw sends some without quotes. */
export function quoteEtag(etag: string): string {
  const bare = etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  return `"${bare}"`;
}

export class S3Operations {
  constructor(readonly client: S3Client) {}

  /** Lists one key under the prefix: proves the bucket exists and the credentials work. */
  async probe(prefix: string): Promise<void> {
    const response = await this.client.send({ method: 'GET', query: { 'list-type': '2', 'max-keys': '1', prefix } });
    await response.body.dump();
  }

  async head(key: string): Promise<(ObjectInfo & { etag: string }) | undefined> {
    const response = await this.client.send({ method: 'HEAD', key, accept: [404] });
    await response.body.dump();
    if (response.status === 404) return undefined;
    return {
      key,
      size: Number(response.headers['content-length']),
      lastModified: new Date(response.headers['last-modified'] ?? 0),
      etag: quoteEtag(response.headers.etag ?? ''),
    };
  }

  /** The object's bytes (or a range); undefined when there is no such key. */
  async get(key: string, range?: ByteRange): Promise<Readable | undefined> {
    const headers: Record<string, string> = range ? { range: `bytes=${range.start}-${range.end}` } : {};
    const response = await this.client.send({ method: 'GET', key, headers, accept: [404] });
    if (response.status === 404) {
      await response.body.dump();
      return undefined;
    }
    return response.body;
  }

  /** A small object as text, with its ETag (for a later conditional write). */
  async getText(key: string): Promise<{ text: string; etag: string } | undefined> {
    const response = await this.client.send({ method: 'GET', key, accept: [404] });
    if (response.status === 404) {
      await response.body.dump();
      return undefined;
    }
    return { text: await response.body.text(), etag: quoteEtag(response.headers.etag ?? '') };
  }

  /**
   * Writes a whole object. `ifMatch` / `ifNoneMatch: '*'` make it a compare-and-swap; a lost
   * race is S3ResponseError 412 (PreconditionFailed).
   */
  async put(key: string, body: RequestBody, condition: { ifMatch?: string; ifNoneMatch?: '*' } = {}): Promise<string> {
    const headers: Record<string, string> = {};
    // Sent unquoted: radosgw (Debian 12's) compares If-Match on PUT against the bare ETag and
    // answers 412 to the quoted form; S3 and MinIO accept either.
    if (condition.ifMatch) headers['if-match'] = condition.ifMatch.replace(/^"|"$/g, '');
    if (condition.ifNoneMatch) headers['if-none-match'] = condition.ifNoneMatch;
    const response = await this.client.send({ method: 'PUT', key, body, headers });
    await response.body.dump();
    return quoteEtag(response.headers.etag ?? '');
  }

  /** Deleting a missing key is not an error in S3, nor here. */
  async delete(key: string): Promise<void> {
    const response = await this.client.send({ method: 'DELETE', key, accept: [404] });
    await response.body.dump();
  }

  /** Every object under `prefix`, page by page (ListObjectsV2). */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const query: Record<string, string> = { 'list-type': '2', prefix, 'max-keys': '1000' };
      if (token) query['continuation-token'] = token;
      const response = await this.client.send({ method: 'GET', query });
      const xml = await response.body.text();
      for (const entry of blocks(xml, 'Contents')) {
        yield {
          key: text(entry, 'Key') ?? '',
          size: Number(text(entry, 'Size') ?? 0),
          lastModified: new Date(text(entry, 'LastModified') ?? 0),
        };
      }
      token = text(xml, 'IsTruncated') === 'true' ? text(xml, 'NextContinuationToken') : undefined;
    } while (token);
  }

  async createMultipart(key: string): Promise<string> {
    const response = await this.client.send({ method: 'POST', key, query: { uploads: '' } });
    const uploadId = text(await response.body.text(), 'UploadId');
    if (!uploadId) throw new S3ResponseError(502, 'InvalidResponse', 'CreateMultipartUpload answered without an UploadId');
    return uploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, body: RequestBody): Promise<string> {
    const query = { partNumber: String(partNumber), uploadId };
    const response = await this.client.send({ method: 'PUT', key, query, body });
    await response.body.dump();
    return quoteEtag(response.headers.etag ?? '');
  }

  /** A part copied server-side from a range of another object (radosgw: ETag unquoted). */
  async uploadPartCopy(key: string, uploadId: string, partNumber: number, source: string, range: ByteRange): Promise<string> {
    const response = await this.client.send({
      method: 'PUT',
      key,
      query: { partNumber: String(partNumber), uploadId },
      headers: { 'x-amz-copy-source': this.copySource(source), 'x-amz-copy-source-range': `bytes=${range.start}-${range.end}` },
    });
    const xml = await response.body.text();
    throwEmbeddedError(xml);
    return quoteEtag(text(xml, 'ETag') ?? '');
  }

  /**
   * Completes a multipart upload from exactly `parts` (parts not listed are discarded by S3).
   * The answer's ETag is not used: radosgw's version in Debian 12 sends it empty.
   */
  async completeMultipart(key: string, uploadId: string, parts: readonly CompletedPart[]): Promise<void> {
    const body =
      '<CompleteMultipartUpload>' +
      parts.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXml(quoteEtag(p.etag))}</ETag></Part>`).join('') +
      '</CompleteMultipartUpload>';
    // Idempotent: the same parts make the same object, and a repeat of a finished completion succeeds.
    const response = await this.client.send({ method: 'POST', key, query: { uploadId }, body, idempotent: true });
    // S3 may answer 200 and still fail: the error then comes in the body.
    throwEmbeddedError(await response.body.text());
  }

  /** A multipart upload that no longer exists is not an error. */
  async abortMultipart(key: string, uploadId: string): Promise<void> {
    const response = await this.client.send({ method: 'DELETE', key, query: { uploadId }, accept: [404] });
    await response.body.dump();
  }

  async *listMultipart(prefix: string): AsyncIterable<{ key: string; uploadId: string; initiated: Date }> {
    let marker: Record<string, string> = {};
    for (;;) {
      const response = await this.client.send({ method: 'GET', query: { uploads: '', prefix, ...marker } });
      const xml = await response.body.text();
      for (const entry of blocks(xml, 'Upload')) {
        yield { key: text(entry, 'Key') ?? '', uploadId: text(entry, 'UploadId') ?? '', initiated: new Date(text(entry, 'Initiated') ?? 0) };
      }
      if (text(xml, 'IsTruncated') !== 'true') return;
      marker = { 'key-marker': text(xml, 'NextKeyMarker') ?? '', 'upload-id-marker': text(xml, 'NextUploadIdMarker') ?? '' };
    }
  }

  /** Server-side copy of a whole object (up to 5 GiB, S3's limit for one CopyObject). */
  async copy(source: string, target: string): Promise<void> {
    const response = await this.client.send({ method: 'PUT', key: target, headers: { 'x-amz-copy-source': this.copySource(source) } });
    throwEmbeddedError(await response.body.text());
  }

  private copySource(key: string): string {
    return `/${this.client.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }
}

function throwEmbeddedError(xml: string): void {
  if (!/<Error>/.test(xml)) return;
  const [code = 'InternalError'] = texts(xml, 'Code');
  throw new S3ResponseError(500, code, text(xml, 'Message') || `S3 reported ${code}`);
}
