/**
 * Where things live in the bucket, under the configured key prefix:
 *
 *   <prefix>
 *   ├── blobs/
 *   │   └── sha256/
 *   │       └── ab12…ef                     committed blob, immutable, named by its digest
 *   └── uploads/
 *       └── <uuid>/
 *           ├── state.json                  upload state (see upload-state.ts)
 *           ├── data                        target of the upload's multipart upload
 *           └── tail/<offset>-<nonce>       bytes after the last whole part, one object per chunk
 *
 * No fan-out directories under blobs/: S3 has no directories, and partitions by key itself.
 * Keys are built only from parsed digests and validated UUIDs.
 */
import { parseDigest, type Digest } from '../../oci/digest.js';
import { UploadNotFoundError } from '../errors.js';
import { isUploadId } from '../blob-store.js';


export class Layout {
  readonly blobs: string;
  readonly uploads: string;

  constructor(prefix: string) {
    const base = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.blobs = `${base}blobs/`;
    this.uploads = `${base}uploads/`;
  }

  blob(digest: Digest): string {
    return `${this.blobs}${digest.algorithm}/${digest.encoded}`;
  }

  /** The digest named by a key under blobs/, or undefined for anything else. */
  digestOf(key: string): Digest | undefined {
    const [algorithm, encoded, ...rest] = key.slice(this.blobs.length).split('/');
    if (!key.startsWith(this.blobs) || rest.length > 0 || !algorithm || !encoded) return undefined;
    const parsed = parseDigest(`${algorithm}:${encoded}`);
    return parsed.ok ? parsed.digest : undefined;
  }

  /** Everything of one upload is under this prefix. */
  upload(id: string): string {
    // The registry passes UUIDs it minted; refusing anything else keeps keys inside uploads/.
    if (!isUploadId(id)) throw new UploadNotFoundError(id);
    return `${this.uploads}${id}/`;
  }

  state(id: string): string {
    return `${this.upload(id)}state.json`;
  }

  data(id: string): string {
    return `${this.upload(id)}data`;
  }

  tail(id: string, offset: number, nonce: string): string {
    return `${this.upload(id)}tail/${String(offset).padStart(15, '0')}-${nonce}`;
  }

  /** The upload id in a key under uploads/, or undefined. */
  uploadIdOf(key: string): string | undefined {
    const id = key.slice(this.uploads.length).split('/')[0] ?? '';
    return key.startsWith(this.uploads) && isUploadId(id) ? id : undefined;
  }
}
