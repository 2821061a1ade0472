/**
 * The engine's pure parts: chain keys (canonical, versioned, sensitive to what changes a result
 * and to nothing else), BuildKit's history texts and config fields, base image references and
 * platforms, cache tags of branches, and miss reasons.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseImageReference } from '../../src/build/engine/base.js';
import { configObject, configState, historyEntry, imageManifest, pickPlatform } from '../../src/build/engine/image.js';
import { canonicalJson, imageKey, SCRATCH_KEY, stepKey } from '../../src/build/engine/keys.js';
import { missReason } from '../../src/build/engine/report.js';
import type { ImageConfigState, Step } from '../../src/build/dockerfile/model.js';
import { cacheTagOf, cacheTagsFor } from '../../src/build/registry-host.js';
import { branchOf } from '../../src/cache/branches.js';

const CONFIG: ImageConfigState = { env: ['PATH=/bin'], exposedPorts: [], volumes: [], labels: {}, workingDir: '/app' };

function run(script: string, extra: Partial<Step> = {}): Step {
  return {
    kind: 'run',
    display: `RUN ${script}`,
    location: { line: 3, endLine: 3 },
    args: {},
    config: CONFIG,
    createdBy: `RUN /bin/sh -c ${script} # buildkit`,
    emptyLayer: false,
    argv: ['/bin/sh', '-c', script],
    env: ['PATH=/bin'],
    proxyEnv: [],
    mounts: [],
    network: 'default',
    heredocs: [],
    ...extra,
  } as Step;
}

describe('chain keys', () => {
  const parent = imageKey('sha256:' + 'a'.repeat(64));

  it('are sha256 digests of canonical JSON, independent of key order and line numbers', () => {
    assert.equal(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined }] }), '{"a":[1,{"d":2}],"b":1}');
    const key = stepKey(parent, run('make'));
    assert.match(key, /^sha256:[0-9a-f]{64}$/);
    assert.equal(stepKey(parent, run('make', { location: { line: 40, endLine: 41 } })), key);
  });

  it('change with the parent, the instruction, the args, the env, the working directory and the sources', () => {
    const key = stepKey(parent, run('make'));
    const others = [
      stepKey(imageKey('sha256:' + 'b'.repeat(64)), run('make')),
      stepKey(parent, run('make all')),
      stepKey(parent, run('make', { args: { VERSION: '2' } })),
      stepKey(parent, run('make', { env: ['PATH=/bin', 'A=1'] })),
      stepKey(parent, run('make', { config: { ...CONFIG, workingDir: '/src' } })),
      stepKey(parent, run('make'), { contentDigest: 'sha256:' + 'c'.repeat(64) }),
      stepKey(parent, run('make'), { fromKey: SCRATCH_KEY }),
    ];
    assert.equal(new Set([key, ...others]).size, others.length + 1);
  });

  it('ignore config the step does not run with (labels, cmd) and proxy variables', () => {
    const key = stepKey(parent, run('make'));
    assert.equal(stepKey(parent, run('make', { proxyEnv: ['HTTP_PROXY=http://proxy:3128'] } as Partial<Step>)), key);
    assert.equal(stepKey(parent, run('make', { config: { ...CONFIG, labels: { a: 'b' }, cmd: ['sh'] } })), key);
  });
});

describe('image config as BuildKit writes it', () => {
  it('writes the frontend\'s history text with BuildKit\'s comment, and empty_layer only when the step added no layer', () => {
    assert.deepEqual(historyEntry(run('true'), 't', true), { created: 't', created_by: 'RUN /bin/sh -c true # buildkit', comment: 'buildkit.dockerfile.v0', empty_layer: true });
    assert.equal(historyEntry(run('true'), 't', false).empty_layer, undefined);
  });

  it('round-trips the config fields through the stage state', () => {
    const base = {
      architecture: 'amd64', os: 'linux', history: [], rootfs: { type: 'layers' as const, diff_ids: [] },
      config: {
        Env: ['A=1'], Entrypoint: ['/bin/sh'], Cmd: ['-c', 'true'], User: '1000:1000', WorkingDir: '/w',
        ExposedPorts: { '80/tcp': {}, '53/udp': {} }, Volumes: { '/data': {} }, Labels: { l: 'v' }, StopSignal: 'SIGTERM',
        Shell: ['/bin/ash', '-c'], Healthcheck: { Test: ['CMD', 'true'], Interval: 30e9, Retries: 3 }, ArgsEscaped: true,
      },
    };
    const state = configState(base);
    assert.deepEqual(state.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=1']);
    const object = configObject(state);
    assert.deepEqual(object.ExposedPorts, { '53/udp': {}, '80/tcp': {} });
    assert.deepEqual(object.Healthcheck, { Test: ['CMD', 'true'], Interval: 30e9, Retries: 3 });
    for (const k of ['Entrypoint', 'Cmd', 'User', 'WorkingDir', 'Volumes', 'Labels', 'StopSignal', 'Shell', 'ArgsEscaped']) {
      assert.deepEqual(object[k], (base.config as Record<string, unknown>)[k], k);
    }
  });

  it('writes Docker media types on request, converting base layers', () => {
    const layer = { digest: 'sha256:' + '1'.repeat(64), size: 3, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', diffId: 'sha256:' + '2'.repeat(64) };
    const docker = JSON.parse(imageManifest('docker', { digest: 'sha256:' + '3'.repeat(64), size: 9 }, [layer]).toString());
    assert.equal(docker.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(docker.config.mediaType, 'application/vnd.docker.container.image.v1+json');
    assert.equal(docker.layers[0].mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
  });
});

describe('base images and cache tags', () => {
  it('reads references to this registry', () => {
    assert.deepEqual(parseImageReference('127.0.0.1:5101/base/busybox:latest'), { repository: 'base/busybox', reference: 'latest' });
    assert.deepEqual(parseImageReference('busybox'), { repository: 'busybox', reference: 'latest' });
    assert.deepEqual(parseImageReference('docker.io/library/alpine:3@sha256:' + 'a'.repeat(64)), { repository: 'alpine', reference: 'sha256:' + 'a'.repeat(64) });
    assert.deepEqual(parseImageReference('localhost/team/app:v1'), { repository: 'team/app', reference: 'v1' });
  });

  it('picks the wanted platform, else linux/amd64, never an attestation', () => {
    const entries = [
      { digest: 'a', mediaType: 'm', platform: { os: 'unknown', architecture: 'unknown' } },
      { digest: 'b', mediaType: 'm', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { digest: 'c', mediaType: 'm', platform: { os: 'linux', architecture: 'amd64' } },
    ];
    assert.equal(pickPlatform(entries, { os: 'linux', architecture: 'arm64' })?.digest, 'b');
    assert.equal(pickPlatform(entries, { os: 'linux', architecture: 's390x' })?.digest, 'c');
    assert.equal(pickPlatform(entries.slice(0, 1), { os: 'linux', architecture: 'amd64' }), undefined);
  });

  it('names the cache tag of a branch so that the cache module reads the branch back', () => {
    assert.equal(cacheTagOf(undefined, null), 'cache');
    assert.equal(cacheTagOf('feature/login', null), 'cache-feature-login');
    assert.equal(branchOf(cacheTagOf('feature/login', null)), 'feature-login');
    assert.equal(cacheTagOf('main', '^buildcache-(?<branch>[a-z0-9-]+)$'), 'buildcache-main');
    assert.equal(branchOf('buildcache-main', '^buildcache-(?<branch>[a-z0-9-]+)$'), 'main');
    assert.deepEqual(cacheTagsFor('pr-7', null, ['cache-main']), ['cache-pr-7', 'cache-main', 'cache']);
  });
});

describe('miss reasons', () => {
  const before = { instruction: 'COPY . /src', args: { A: '1' }, parent: 'p', files: [['a', '1'], ['b', '2']] as Array<[string, string]> };
  it('name the first input that changed', () => {
    assert.deepEqual(missReason(before, undefined), { kind: 'new' });
    assert.equal(missReason({ ...before, instruction: 'COPY . /app' }, before).kind, 'instruction');
    assert.deepEqual(missReason({ ...before, args: { A: '2' } }, before), { kind: 'build-arg', name: 'A' });
    assert.deepEqual(missReason({ ...before, files: [['a', '1'], ['b', '3']] }, before), { kind: 'file', path: 'b' });
    assert.deepEqual(missReason({ ...before, files: [['a', '1']] }, before), { kind: 'file', path: 'b' });
    assert.deepEqual(missReason({ ...before, parent: 'q' }, before), { kind: 'parent' });
  });
});
