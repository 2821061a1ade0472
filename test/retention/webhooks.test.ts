/** Webhook payload reading and signature checks (pure). */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { readGitHubEvent, readGitLabEvent, verifyGitHubSignature, verifyGitLabToken } from '../../src/retention/webhooks.js';

test('GitHub signatures: right secret and body only', () => {
  const body = Buffer.from('{"a":1}');
  const good = `sha256=${createHmac('sha256', 'k').update(body).digest('hex')}`;
  assert.ok(verifyGitHubSignature('k', body, good));
  assert.ok(!verifyGitHubSignature('other', body, good));
  assert.ok(!verifyGitHubSignature('k', Buffer.from('{"a":2}'), good));
  assert.ok(!verifyGitHubSignature('k', body, undefined));
  assert.ok(!verifyGitHubSignature('k', body, 'sha256=00'));
  assert.ok(!verifyGitHubSignature('k', body, good.replace('sha256=', 'sha1=')));
});

test('GitLab tokens', () => {
  assert.ok(verifyGitLabToken('tok', 'tok'));
  assert.ok(!verifyGitLabToken('tok', 'tok2'));
  assert.ok(!verifyGitLabToken('tok', undefined));
});

test('GitHub events: branch delete/create, PR closed from the same repository only', () => {
  const repository = { full_name: 'org/app' };
  assert.deepEqual(readGitHubEvent('delete', { ref: 'feature/x', ref_type: 'branch', repository }), { gitRepository: 'org/app', branch: 'feature/x', state: 'gone', why: 'github delete' });
  assert.equal(readGitHubEvent('delete', { ref: 'v1', ref_type: 'tag', repository }), undefined);
  assert.equal(readGitHubEvent('create', { ref: 'f', ref_type: 'branch', repository })?.state, 'live');
  const pr = (action: string, head: string) => ({ action, repository, pull_request: { head: { ref: 'feature/y', repo: { full_name: head } } } });
  assert.equal(readGitHubEvent('pull_request', pr('closed', 'org/app'))?.branch, 'feature/y');
  assert.equal(readGitHubEvent('pull_request', pr('closed', 'fork/app')), undefined);
  assert.equal(readGitHubEvent('pull_request', pr('opened', 'org/app')), undefined);
  assert.equal(readGitHubEvent('ping', { zen: 'hi', repository }), undefined);
  assert.equal(readGitHubEvent('delete', 'not an object'), undefined);
});

test('GitLab events: push deleting or creating a branch, merge request merged', () => {
  const project = { path_with_namespace: 'group/sub/app' };
  const zeros = '0'.repeat(40);
  assert.equal(readGitLabEvent({ object_kind: 'push', ref: 'refs/heads/feat/z', before: 'abc', after: zeros, project })?.state, 'gone');
  assert.equal(readGitLabEvent({ object_kind: 'push', ref: 'refs/heads/feat/z', before: zeros, after: 'abc', project })?.state, 'live');
  assert.equal(readGitLabEvent({ object_kind: 'push', ref: 'refs/heads/feat/z', before: 'a', after: 'b', project }), undefined);
  assert.equal(readGitLabEvent({ object_kind: 'push', ref: 'refs/tags/v1', before: 'a', after: zeros, project }), undefined);
  const mr = (action: string, source = 1) => ({ object_kind: 'merge_request', project, object_attributes: { action, state: action === 'merge' ? 'merged' : 'opened', source_branch: 'feat/m', source_project_id: source, target_project_id: 1 } });
  assert.deepEqual(readGitLabEvent(mr('merge')), { gitRepository: 'group/sub/app', branch: 'feat/m', state: 'gone', why: 'gitlab merge request merged' });
  assert.equal(readGitLabEvent(mr('open')), undefined);
  assert.equal(readGitLabEvent(mr('merge', 2)), undefined);
});
