/**
 * Port of conformance/setup.go (opencontainers/distribution-spec @ b5f09ebe541c65857e8721d51a7a3d0e2f1d8749)
 * and conformance/image.go (@ 3ec8a56d897bb89d482b41d4aac6ba01519f55f2): the test content, the environment
 * options and the skip helpers, plus the few gomega matchers and Go JSON decodes the workflows rely on.
 *
 * Go keeps all of this in package globals built once by init(); here `newSuite()` builds one such set per
 * run of the suite (one per server), so runs never share content.
 *
 * Deliberate differences, none of which changes what a registry is asked:
 * - randomBlob(size, seed) uses Go's math/rand seeded with Ginkgo's random seed; here the bytes come from
 *   crypto.randomBytes (both are arbitrary bytes, unique per run).
 * - numWorkflows is `1 << 4` = 16 in Go (an iota quirk), so 16 configs and manifests are built; kept.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import { Client, type Response } from './reggie.js';

// ------------------------------------------------------------------------------------------ constants

export const pull = 1 << 0;
export const push = 1 << 1;
export const contentDiscovery = 1 << 2;
export const contentManagement = 1 << 3;
const numWorkflows = 1 << 4; // sic: the iota after contentManagement, i.e. 16

export const BLOB_UNKNOWN = 0;
export const BLOB_UPLOAD_INVALID = 1;
export const BLOB_UPLOAD_UNKNOWN = 2;
export const DIGEST_INVALID = 3;
export const MANIFEST_BLOB_UNKNOWN = 4;
export const MANIFEST_INVALID = 5;
export const MANIFEST_UNKNOWN = 6;
export const MANIFEST_UNVERIFIED = 7;
export const NAME_INVALID = 8;
export const NAME_UNKNOWN = 9;
export const SIZE_INVALID = 10;
export const TAG_INVALID = 11;
export const UNAUTHORIZED = 12;
export const DENIED = 13;
export const UNSUPPORTED = 14;

export const errorCodes = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'MANIFEST_UNVERIFIED',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'TAG_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
];

const envVarNamespace = 'OCI_NAMESPACE';
const envVarPull = 'OCI_TEST_PULL';
const envVarPush = 'OCI_TEST_PUSH';
const envVarContentDiscovery = 'OCI_TEST_CONTENT_DISCOVERY';
const envVarContentManagement = 'OCI_TEST_CONTENT_MANAGEMENT';
const envVarBlobDigest = 'OCI_BLOB_DIGEST';
const envVarManifestDigest = 'OCI_MANIFEST_DIGEST';
export const envVarTagName = 'OCI_TAG_NAME';
export const envVarTagList = 'OCI_TAG_LIST';
const envVarDeleteManifestBeforeBlobs = 'OCI_DELETE_MANIFEST_BEFORE_BLOBS';
const envVarCrossmountNamespace = 'OCI_CROSSMOUNT_NAMESPACE';
const envVarAutomaticCrossmount = 'OCI_AUTOMATIC_CROSSMOUNT';

export const emptyLayerTestTag = 'emptylayer';
export const testTagName = 'tagtest0';

export const titlePull = 'Pull';
export const titlePush = 'Push';
export const titleContentDiscovery = 'Content Discovery';
export const titleContentManagement = 'Content Management';

// $ echo 'you bothered to find out what was in here. Congratulations!' > test.txt; tar czvf test.tar.gz test.txt
const layerBase64String =
  'H4sIAAAAAAAAA+3OQQrCMBCF4a49xXgBSUnaHMCTRBptQRNpp6i3t0UEV7oqIv7fYgbmzeJpHHSjVy0' +
  'WZCa1c/MufWVe94N3RWlrZ72x3k/30nhbFWKWLPU0Dhp6keJ8im//PuU/6pZH2WVtYx8b0Sz7LjWSR5VLG6YRBumSzOlGtjkd+qD' +
  'jMWiX07Befbs7AAAAAAAAAAAAAAAAAPyzO34MnqoAKAAA';

export const artifactTypeFilter = 'artifactType';

// ------------------------------------------------------------------------------------------ environment

/** strconv.ParseBool; `undefined` where Go returns an error (and the caller keeps false). */
function parseBool(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

/**
 * The environment of one suite run. Where the Go suite leaves an option off unless set, this port turns it
 * on unless set (the brief: every workflow and every env-dependent check enabled):
 * - OCI_TEST_PULL / _PUSH / _CONTENT_DISCOVERY / _CONTENT_MANAGEMENT: default 1 (set one to 0 to skip it).
 * - OCI_NAMESPACE: default "oci-conformance/distribution-test".
 * - OCI_CROSSMOUNT_NAMESPACE: default "conformance-<uuid>", as Go generates.
 * - OCI_AUTOMATIC_CROSSMOUNT: default from SuiteOptions.automaticCrossmount (always set, so one of the two
 *   automatic-crossmount checks runs: 201 when on, 202 when off). Cairn mounts without `from` unless
 *   CAIRN_AUTOMATIC_MOUNT=false; the reference never does.
 * - OCI_DELETE_MANIFEST_BEFORE_BLOBS: default both ways (the suite runs once per value; see the .test file).
 * - OCI_BLOB_DIGEST, OCI_MANIFEST_DIGEST, OCI_TAG_NAME, OCI_TAG_LIST: as in Go (unset by default).
 */
export interface SuiteOptions {
  deleteManifestBeforeBlobs: boolean;
  /** Whether the registry under test mounts without `from` (when OCI_AUTOMATIC_CROSSMOUNT is unset). */
  automaticCrossmount: boolean;
}

export function deleteManifestBeforeBlobsVariants(): boolean[] {
  const raw = process.env[envVarDeleteManifestBeforeBlobs];
  if (raw === undefined) return [true, false];
  return [parseBool(raw) ?? false];
}

// ------------------------------------------------------------------------------------------ image.go

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  data?: Buffer;
  platform?: Record<string, unknown>;
  artifactType?: string;
  newUnspecifiedField?: Buffer;
}

export interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface Index {
  schemaVersion: number;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

const nonEmptyMap = (m: Record<string, string> | undefined) => (m && Object.keys(m).length > 0 ? m : undefined);

/** The JSON object encoding/json builds for image.go's descriptor: field order, omitempty, []byte as base64. */
function descriptorJSON(d: Descriptor): Record<string, unknown> {
  const o: Record<string, unknown> = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.urls && d.urls.length > 0) o.urls = d.urls;
  if (nonEmptyMap(d.annotations)) o.annotations = d.annotations;
  if (d.data && d.data.length > 0) o.data = d.data.toString('base64');
  if (d.platform) o.platform = d.platform;
  if (d.artifactType) o.artifactType = d.artifactType;
  o.newUnspecifiedField = d.newUnspecifiedField ? d.newUnspecifiedField.toString('base64') : null; // no omitempty
  return o;
}

/** json.MarshalIndent(&manifest, "", "\t") */
export function marshalManifest(m: Manifest): Buffer {
  const o: Record<string, unknown> = { schemaVersion: m.schemaVersion };
  if (m.mediaType) o.mediaType = m.mediaType;
  if (m.artifactType) o.artifactType = m.artifactType;
  o.config = descriptorJSON(m.config);
  o.layers = m.layers.map(descriptorJSON);
  if (m.subject) o.subject = descriptorJSON(m.subject);
  if (nonEmptyMap(m.annotations)) o.annotations = m.annotations;
  return Buffer.from(JSON.stringify(o, null, '\t'));
}

/** json.MarshalIndent(&index, "", "\t") */
export function marshalIndex(i: Index): Buffer {
  const o: Record<string, unknown> = { schemaVersion: i.schemaVersion };
  if (i.mediaType) o.mediaType = i.mediaType;
  if (i.artifactType) o.artifactType = i.artifactType;
  o.manifests = i.manifests.map(descriptorJSON);
  if (i.subject) o.subject = descriptorJSON(i.subject);
  if (nonEmptyMap(i.annotations)) o.annotations = i.annotations;
  return Buffer.from(JSON.stringify(o, null, '\t'));
}

/** json.MarshalIndent(&image{...}, "", "\t") for the config: author, architecture, os, rootfs. */
function marshalImageConfig(author: string): Buffer {
  const o: Record<string, unknown> = {};
  if (author) o.author = author;
  o.architecture = 'amd64';
  o.os = 'linux';
  o.rootfs = { type: 'layers', diff_ids: [] };
  return Buffer.from(JSON.stringify(o, null, '\t'));
}

export function fromBytes(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

// ------------------------------------------------------------------------------------------ setup.go

export interface TestBlob {
  Content: Buffer;
  ContentLength: string;
  Digest: string;
}

function randomString(n: number): string {
  const letters = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-';
  let out = '';
  for (let i = 0; i < n; i++) out += letters[randomInt(letters.length)];
  return out;
}

function randomBlob(size: number): { digest: string; blob: Buffer } {
  const blob = randomBytes(size);
  return { digest: fromBytes(blob), blob };
}

/** Everything setup.go's init() builds, plus the client; one per suite run. */
export class Suite {
  readonly client: Client;
  readonly crossmountNamespace: string;
  readonly testsToRun: number;

  readonly configs: TestBlob[] = [];
  readonly manifests: TestBlob[] = [];
  readonly layerBlobData: Buffer;
  readonly layerBlobDigest: string;
  readonly layerBlobContentLength: string;
  readonly emptyLayerManifestContent: Buffer;
  readonly emptyLayerManifestDigest: string;
  readonly nonexistentManifest = '.INVALID_MANIFEST_NAME';
  readonly invalidManifestContent = Buffer.from('blablabla');

  readonly testBlobA: Buffer;
  readonly testBlobALength: string;
  readonly testBlobADigest: string;
  testBlobB!: Buffer;
  testBlobBDigest!: string;
  testBlobBChunk1!: Buffer;
  testBlobBChunk1Length!: string;
  testBlobBChunk1Range!: string;
  testBlobBChunk2!: Buffer;
  testBlobBChunk2Length!: string;
  testBlobBChunk2Range!: string;

  readonly emptyJSONBlob = Buffer.from('{}');
  readonly emptyJSONDescriptor: Descriptor;
  readonly testRefBlobA = Buffer.from('NHL Peanut Butter on my NHL bagel');
  readonly testRefBlobALength: string;
  readonly testRefBlobADigest: string;
  readonly testRefArtifactTypeA = 'application/vnd.nhl.peanut.butter.bagel';
  readonly testRefBlobB = Buffer.from('NBA Strawberry Jam on my NBA croissant');
  readonly testRefBlobBLength: string;
  readonly testRefBlobBDigest: string;
  readonly testRefArtifactTypeB = 'application/vnd.nba.strawberry.jam.croissant';
  readonly testRefArtifactTypeIndex = 'application/vnd.food.stand';
  readonly testAnnotationKey = 'org.opencontainers.conformance.test';
  readonly testAnnotationValues = new Map<string, string>();
  readonly refsManifestAConfigArtifactContent: Buffer;
  readonly refsManifestAConfigArtifactDigest: string;
  readonly refsManifestBConfigArtifactContent: Buffer;
  readonly refsManifestBConfigArtifactDigest: string;
  readonly refsManifestALayerArtifactContent: Buffer;
  readonly refsManifestALayerArtifactDigest: string;
  readonly refsManifestBLayerArtifactContent: Buffer;
  readonly refsManifestBLayerArtifactDigest: string;
  readonly refsManifestCLayerArtifactContent: Buffer;
  readonly refsManifestCLayerArtifactDigest: string;
  readonly refsIndexArtifactContent: Buffer;
  readonly refsIndexArtifactDigest: string;
  readonly dummyDigest = fromBytes('hello world');

  readonly runPullSetup: boolean;
  readonly runPushSetup = true;
  readonly runContentDiscoverySetup: boolean;
  readonly runContentManagementSetup = true;
  readonly deleteManifestBeforeBlobs: boolean;
  readonly runAutomaticCrossmountTest: boolean;
  readonly automaticCrossmountEnabled: boolean;

  constructor(address: () => string, options: SuiteOptions) {
    const env = process.env;
    const namespace = env[envVarNamespace] ?? 'oci-conformance/distribution-test';
    this.crossmountNamespace = env[envVarCrossmountNamespace] || `conformance-${randomUUID()}`;
    this.client = new Client(address, { DefaultName: namespace });

    let testsToRun = 0;
    const testMap: Record<string, number> = {
      [envVarPull]: pull,
      [envVarPush]: push,
      [envVarContentDiscovery]: contentDiscovery,
      [envVarContentManagement]: contentManagement,
    };
    for (const [envVar, enableTest] of Object.entries(testMap)) {
      if (parseBool(env[envVar] ?? '1')) testsToRun |= enableTest;
    }
    this.testsToRun = testsToRun;

    // a unique config for each workflow category (a random author makes the digest unique)
    for (let i = 0; i < numWorkflows; i++) {
      const content = marshalImageConfig(randomString(16));
      this.configs.push({ Content: content, ContentLength: String(content.length), Digest: env[envVarBlobDigest] || fromBytes(content) });
    }

    this.layerBlobData = Buffer.from(layerBase64String, 'base64');
    this.layerBlobDigest = fromBytes(this.layerBlobData);
    this.layerBlobContentLength = String(this.layerBlobData.length);
    const layers: Descriptor[] = [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', size: this.layerBlobData.length, digest: this.layerBlobDigest }];

    // a unique manifest for each workflow category
    for (let i = 0; i < numWorkflows; i++) {
      const content = marshalManifest({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: this.configs[i]!.Digest,
          size: this.configs[i]!.Content.length,
          data: this.configs[i]!.Content, // must be the config content.
          newUnspecifiedField: Buffer.from('hello world'), // content doesn't matter.
        },
        layers,
      });
      this.manifests.push({ Content: content, ContentLength: String(content.length), Digest: env[envVarManifestDigest] || fromBytes(content) });
    }

    // used in push test
    this.emptyLayerManifestContent = marshalManifest({
      schemaVersion: 2,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: this.configs[1]!.Digest,
        size: this.configs[1]!.Content.length,
        data: this.configs[1]!.Content,
        newUnspecifiedField: Buffer.from('hello world'),
      },
      layers: [],
    });
    this.emptyLayerManifestDigest = fromBytes(this.emptyLayerManifestContent);

    const a = randomBlob(42);
    this.testBlobA = a.blob;
    this.testBlobALength = String(a.blob.length);
    this.testBlobADigest = a.digest;

    this.setupChunkedBlob(42);

    // used in referrers test (artifacts with Subject field set)
    this.emptyJSONDescriptor = { mediaType: 'application/vnd.oci.empty.v1+json', size: this.emptyJSONBlob.length, digest: fromBytes(this.emptyJSONBlob) };
    this.testRefBlobALength = String(this.testRefBlobA.length);
    this.testRefBlobADigest = fromBytes(this.testRefBlobA);
    this.testRefBlobBLength = String(this.testRefBlobB.length);
    this.testRefBlobBDigest = fromBytes(this.testRefBlobB);

    const subject4: Descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: this.manifests[4]!.Content.length, digest: fromBytes(this.manifests[4]!.Content) };
    const subject3: Descriptor = { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: this.manifests[3]!.Content.length, digest: fromBytes(this.manifests[3]!.Content) };

    // artifact with Subject ref using config.MediaType = artifactType
    const refsManifestAConfigArtifact: Manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: this.testRefArtifactTypeA, size: this.testRefBlobA.length, digest: fromBytes(this.testRefBlobA) },
      subject: subject4,
      layers: [this.emptyJSONDescriptor],
      annotations: { [this.testAnnotationKey]: 'test config a' },
    };
    this.refsManifestAConfigArtifactContent = marshalManifest(refsManifestAConfigArtifact);
    this.refsManifestAConfigArtifactDigest = fromBytes(this.refsManifestAConfigArtifactContent);
    this.testAnnotationValues.set(this.refsManifestAConfigArtifactDigest, 'test config a');

    const refsManifestBConfigArtifact: Manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: this.testRefArtifactTypeB, size: this.testRefBlobB.length, digest: fromBytes(this.testRefBlobB) },
      subject: subject4,
      layers: [this.emptyJSONDescriptor],
      annotations: { [this.testAnnotationKey]: 'test config b' },
    };
    this.refsManifestBConfigArtifactContent = marshalManifest(refsManifestBConfigArtifact);
    this.refsManifestBConfigArtifactDigest = fromBytes(this.refsManifestBConfigArtifactContent);
    this.testAnnotationValues.set(this.refsManifestBConfigArtifactDigest, 'test config b');

    // artifact with Subject ref using ArtifactType, config.MediaType = emptyJSON
    const refsManifestALayerArtifact: Manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: this.testRefArtifactTypeA,
      config: this.emptyJSONDescriptor,
      subject: subject4,
      layers: [{ mediaType: this.testRefArtifactTypeA, size: this.testRefBlobA.length, digest: fromBytes(this.testRefBlobA) }],
      annotations: { [this.testAnnotationKey]: 'test layer a' },
    };
    this.refsManifestALayerArtifactContent = marshalManifest(refsManifestALayerArtifact);
    this.refsManifestALayerArtifactDigest = fromBytes(this.refsManifestALayerArtifactContent);
    this.testAnnotationValues.set(this.refsManifestALayerArtifactDigest, 'test layer a');

    const refsManifestBLayerArtifact: Manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: this.testRefArtifactTypeB,
      config: this.emptyJSONDescriptor,
      subject: subject4,
      layers: [{ mediaType: this.testRefArtifactTypeB, size: this.testRefBlobB.length, digest: fromBytes(this.testRefBlobB) }],
      annotations: { [this.testAnnotationKey]: 'test layer b' },
    };
    this.refsManifestBLayerArtifactContent = marshalManifest(refsManifestBLayerArtifact);
    this.refsManifestBLayerArtifactDigest = fromBytes(this.refsManifestBLayerArtifactContent);
    this.testAnnotationValues.set(this.refsManifestBLayerArtifactDigest, 'test layer b');

    // ManifestCLayerArtifact is the same as B but based on a subject that has not been pushed
    const refsManifestCLayerArtifact: Manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: this.testRefArtifactTypeB,
      config: this.emptyJSONDescriptor,
      subject: subject3,
      layers: [{ mediaType: this.testRefArtifactTypeB, size: this.testRefBlobB.length, digest: fromBytes(this.testRefBlobB) }],
    };
    this.refsManifestCLayerArtifactContent = marshalManifest(refsManifestCLayerArtifact);
    this.refsManifestCLayerArtifactDigest = fromBytes(this.refsManifestCLayerArtifactContent);

    const refsIndexArtifact: Index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      artifactType: this.testRefArtifactTypeIndex,
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: this.refsManifestAConfigArtifactContent.length, digest: this.refsManifestAConfigArtifactDigest },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: this.refsManifestALayerArtifactContent.length, digest: this.refsManifestALayerArtifactDigest },
      ],
      subject: subject4,
      annotations: { [this.testAnnotationKey]: 'test index' },
    };
    this.refsIndexArtifactContent = marshalIndex(refsIndexArtifact);
    this.refsIndexArtifactDigest = fromBytes(this.refsIndexArtifactContent);
    this.testAnnotationValues.set(this.refsIndexArtifactDigest, 'test index');

    this.runPullSetup = !(env[envVarTagName] && env[envVarManifestDigest] && env[envVarBlobDigest]);
    this.runContentDiscoverySetup = !env[envVarTagList];
    this.deleteManifestBeforeBlobs = options.deleteManifestBeforeBlobs;
    const automaticCrossmountVal = env[envVarAutomaticCrossmount] ?? String(options.automaticCrossmount);
    this.runAutomaticCrossmountTest = true; // os.LookupEnv: always set here (by default from the options)
    this.automaticCrossmountEnabled = parseBool(automaticCrossmountVal) ?? false;
  }

  setupChunkedBlob(size: number): void {
    const { digest, blob } = randomBlob(size);
    this.testBlobB = blob;
    this.testBlobBDigest = digest;
    const half = Math.floor(size / 2) + 1;
    this.testBlobBChunk1 = blob.subarray(0, half);
    this.testBlobBChunk1Length = String(this.testBlobBChunk1.length);
    this.testBlobBChunk1Range = `0-${this.testBlobBChunk1.length - 1}`;
    this.testBlobBChunk2 = blob.subarray(half);
    this.testBlobBChunk2Length = String(this.testBlobBChunk2.length);
    this.testBlobBChunk2Range = `${this.testBlobBChunk1.length}-${blob.length - 1}`;
  }

  // ---------------------------------------------------------------------------------- skip helpers
  // g.Skip aborts the spec; here they mark it skipped and return true, and the spec returns.

  SkipIfDisabled(t: TestContext, test: number): boolean {
    if ((test & this.testsToRun) > 0) return false;
    const vars = [envVarPull, envVarPush, envVarContentDiscovery, envVarContentManagement].map((k) => `${k}=${process.env[k] ?? ''}`);
    t.skip(`you have skipped this test; if this is an error, check your environment variable settings: ${vars.join(' ')}`);
    return true;
  }

  RunOnlyIf(t: TestContext, v: boolean): boolean {
    if (v) return false;
    t.skip('you have skipped this test.');
    return true;
  }

  RunOnlyIfNot(t: TestContext, v: boolean): boolean {
    return this.RunOnlyIf(t, !v);
  }
}

/** setup.go's Warn: printed, the spec still passes. */
export function Warn(t: TestContext, message: string): void {
  t.diagnostic(`WARNING: ${message}`);
}

// ------------------------------------------------------------------------------------------ matchers

/** A gomega status matcher: a predicate and how gomega would print it. */
export interface StatusMatcher {
  readonly matches: (status: number) => boolean;
  readonly text: string;
}

export const Equal = (code: number): StatusMatcher => ({ matches: (s) => s === code, text: `Equal(${code})` });
/** SatisfyAll(BeNumerically(">=", 200), BeNumerically("<", 300)) */
export const Is2xx: StatusMatcher = { matches: (s) => s >= 200 && s < 300, text: 'SatisfyAll(>=200, <300)' };
export const SatisfyAny = (...ms: StatusMatcher[]): StatusMatcher => ({
  matches: (s) => ms.some((m) => m.matches(s)),
  text: `SatisfyAny(${ms.map((m) => m.text).join(', ')})`,
});

/** Expect(resp.StatusCode()).To(matcher) */
export function expectStatus(resp: Response, matcher: StatusMatcher): void {
  assert.ok(matcher.matches(resp.StatusCode()), `Expected status ${resp.StatusCode()} to satisfy ${matcher.text}\n${resp.describe()}`);
}

/** Expect(actual).To(Equal(expected)) with the response for context. */
export function expectEqual<T>(actual: T, expected: T, resp?: Response, what = 'value'): void {
  assert.deepEqual(actual, expected, `Expected ${what} ${JSON.stringify(actual)} to equal ${JSON.stringify(expected)}${resp ? `\n${resp.describe()}` : ''}`);
}

/** Expect(s).ToNot(BeEmpty()) */
export function expectNotEmpty(value: string, resp: Response | undefined, what: string): void {
  assert.ok(value !== '', `Expected ${what} not to be empty${resp ? `\n${resp.describe()}` : ''}`);
}

/** A Go slice index: out of range panics, which fails the spec. */
export function goIndex<T>(slice: readonly T[], i: number): T {
  if (i < 0 || i >= slice.length) throw new Error(`runtime error: index out of range [${i}] with length ${slice.length}`);
  return slice[i]!;
}

// ------------------------------------------------------------------------------------------ Go JSON decoding
// encoding/json into the suite's structs: unknown keys ignored, keys matched case-insensitively (the last
// matching key wins), null leaves the zero value, a value of the wrong JSON type is an error.

class GoJSONError extends Error {}

function goField(obj: Record<string, unknown>, name: string): unknown {
  let value: unknown = undefined;
  for (const key of Object.keys(obj)) if (key.toLowerCase() === name.toLowerCase()) value = obj[key];
  return value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function decodeString(v: unknown, where: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new GoJSONError(`json: cannot unmarshal ${jsonType(v)} into Go value of type string (${where})`);
  return v;
}

function decodeStringSlice(v: unknown, where: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new GoJSONError(`json: cannot unmarshal ${jsonType(v)} into Go value of type []string (${where})`);
  return v.map((e, i) => decodeString(e, `${where}[${i}]`));
}

function decodeStringMap(v: unknown, where: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw new GoJSONError(`json: cannot unmarshal ${jsonType(v)} into Go value of type map[string]string (${where})`);
  const out: Record<string, string> = {};
  for (const [k, e] of Object.entries(v)) out[k] = decodeString(e, `${where}.${k}`);
  return out;
}

function decodeBytes(v: unknown, where: string): void {
  if (v === undefined || v === null) return;
  if (typeof v !== 'string' || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v.replace(/[\r\n]/g, ''))) {
    throw new GoJSONError(`json: cannot unmarshal ${jsonType(v)} into Go value of type []uint8 (${where})`);
  }
}

function decodeInt64(v: unknown, where: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new GoJSONError(`json: cannot unmarshal ${jsonType(v)} into Go value of type int64 (${where})`);
  return v;
}

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'object' : typeof v;
}

export interface DecodedDescriptor {
  Digest: string;
  MediaType: string;
  Annotations: Record<string, string>;
}

function decodeDescriptor(v: unknown, where: string): DecodedDescriptor {
  if (v === undefined || v === null) return { Digest: '', MediaType: '', Annotations: {} };
  if (!isObject(v)) throw new GoJSONError(`json: cannot unmarshal ${jsonType(v)} into Go value of type descriptor (${where})`);
  const d: DecodedDescriptor = {
    MediaType: decodeString(goField(v, 'mediaType'), `${where}.mediaType`),
    Digest: decodeString(goField(v, 'digest'), `${where}.digest`),
    Annotations: decodeStringMap(goField(v, 'annotations'), `${where}.annotations`),
  };
  decodeInt64(goField(v, 'size'), `${where}.size`);
  decodeStringSlice(goField(v, 'urls'), `${where}.urls`);
  decodeBytes(goField(v, 'data'), `${where}.data`);
  const platform = goField(v, 'platform');
  if (platform !== undefined && platform !== null && !isObject(platform)) throw new GoJSONError(`json: cannot unmarshal ${jsonType(platform)} into platform (${where})`);
  decodeString(goField(v, 'artifactType'), `${where}.artifactType`);
  decodeBytes(goField(v, 'newUnspecifiedField'), `${where}.newUnspecifiedField`);
  return d;
}

function parseJSON(body: Buffer | string): unknown {
  try {
    return JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch (error) {
    throw new GoJSONError(`invalid JSON: ${(error as Error).message}`);
  }
}

/** json.Unmarshal(body, &index) then `Expect(err).To(BeNil())`: the manifests, or an assertion failure. */
export function unmarshalIndex(resp: Response): { Manifests: DecodedDescriptor[] } {
  try {
    const v = parseJSON(resp.body);
    if (v === null) return { Manifests: [] };
    if (!isObject(v)) throw new GoJSONError(`json: cannot unmarshal ${jsonType(v)} into Go value of type conformance.index`);
    decodeInt64(goField(v, 'schemaVersion'), 'schemaVersion');
    decodeString(goField(v, 'mediaType'), 'mediaType');
    decodeString(goField(v, 'artifactType'), 'artifactType');
    decodeStringMap(goField(v, 'annotations'), 'annotations');
    const subject = goField(v, 'subject');
    if (subject !== undefined && subject !== null) decodeDescriptor(subject, 'subject');
    const manifests = goField(v, 'manifests');
    if (manifests === undefined || manifests === null) return { Manifests: [] };
    if (!Array.isArray(manifests)) throw new GoJSONError(`json: cannot unmarshal ${jsonType(manifests)} into Go struct field index.manifests`);
    return { Manifests: manifests.map((m, i) => decodeDescriptor(m, `manifests[${i}]`)) };
  } catch (error) {
    if (error instanceof GoJSONError) assert.fail(`Expected json.Unmarshal error to be nil, got: ${error.message}\n${resp.describe()}`);
    throw error;
  }
}

/** json.Unmarshal into TagList: the tags, or the error Go would return. */
export function unmarshalTagList(body: Buffer | string): { tags: string[]; err?: string } {
  try {
    const v = parseJSON(body);
    if (v === null) return { tags: [] };
    if (!isObject(v)) throw new GoJSONError(`json: cannot unmarshal ${jsonType(v)} into Go value of type conformance.TagList`);
    decodeString(goField(v, 'name'), 'name');
    return { tags: decodeStringSlice(goField(v, 'tags'), 'tags') };
  } catch (error) {
    if (error instanceof GoJSONError) return { tags: [], err: error.message };
    throw error;
  }
}

/** setup.go getTagList: the tags, or none when the body does not decode. */
export function getTagList(resp: Response): string[] {
  const { tags, err } = unmarshalTagList(resp.body);
  return err ? [] : tags;
}

/**
 * reggie's resp.Errors() (v0.6: `([]ErrorInfo, error)`): an error when the body is not JSON, does not decode
 * into {errors: [...]}, or holds no errors.
 */
export function responseErrors(resp: Response): { codes: string[]; err?: string } {
  try {
    const v = parseJSON(resp.body);
    if (v !== null && !isObject(v)) throw new GoJSONError(`json: cannot unmarshal ${jsonType(v)} into Go value of type reggie.ErrorResponse`);
    const errors = v === null ? null : goField(v, 'errors');
    if (errors !== undefined && errors !== null && !Array.isArray(errors)) throw new GoJSONError(`json: cannot unmarshal ${jsonType(errors)} into errors`);
    const list = (errors as unknown[] | null | undefined) ?? [];
    if (list.length === 0) return { codes: [], err: 'body was valid json but could not be parsed' };
    const codes = list.map((e, i) => {
      if (e === null) return '';
      if (!isObject(e)) throw new GoJSONError(`json: cannot unmarshal ${jsonType(e)} into errors[${i}]`);
      decodeString(goField(e, 'message'), `errors[${i}].message`);
      return decodeString(goField(e, 'code'), `errors[${i}].code`);
    });
    return { codes };
  } catch (error) {
    if (error instanceof GoJSONError) return { codes: [], err: error.message };
    throw error;
  }
}
