/** Git branch → tag-form branch names, and protection globs in either form. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { branchGlobMatches, sanitiseBranch } from '../../src/retention/branch-names.js';

test('CI sanitising: / and invalid characters become -, cut to 128, lower-casing on request', () => {
  assert.equal(sanitiseBranch('feature/Login'), 'feature-Login');
  assert.equal(sanitiseBranch('feature/Login', { lowercase: true }), 'feature-login');
  assert.equal(sanitiseBranch('refs/heads/fix/ä b@c'), 'fix---b-c');
  assert.equal(sanitiseBranch('release-1.2_x'), 'release-1.2_x');
  assert.equal(sanitiseBranch('x'.repeat(300)).length, 128);
});

test('protection globs match in Git form and tag form', () => {
  assert.ok(branchGlobMatches('release/*', 'release-1.2'));
  assert.ok(branchGlobMatches('release-*', 'release-1.2'));
  assert.ok(!branchGlobMatches('release/*', 'prerelease-1'));
  assert.ok(branchGlobMatches('main', 'main'));
});
