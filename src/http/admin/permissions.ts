/** Grants of actions on repository patterns, and the audit log that records every change. */
import type { AccessControl } from '../../auth/access-control.js';
import type { Permission } from '../../auth/permissions.js';
import type { AuditFilter, AuditRow } from '../../metadata/stores/audit.js';
import { defineRoute, type AdminRoute } from './route.js';
import * as s from './schemas.js';

type Grant = { account?: string; anonymous?: boolean; pattern: string; actions: string[] };

export function permissionRoutes(access: AccessControl): AdminRoute[] {
  const { permissions } = access;
  return [
    defineRoute({
      method: 'GET',
      path: '/permissions',
      operationId: 'listPermissions',
      tag: 'permissions',
      summary: 'List grants',
      access: 'admin',
      schema: { response: s.permissions },
      status: 200,
      errors: [],
      handler: async () => ({ permissions: (await permissions.list()).map(permissionView) }),
    }),
    defineRoute<Record<string, never>, Record<string, never>, Grant, ReturnType<typeof permissionView>>({
      method: 'POST',
      path: '/permissions',
      operationId: 'grantPermission',
      tag: 'permissions',
      summary: 'Grant actions on a repository pattern to an account or to anonymous callers (replaces the actions of an existing grant on the same pattern)',
      access: 'admin',
      schema: { body: s.grantPermission, response: s.permission },
      status: 201,
      errors: ['pattern_invalid', 'grantee_ambiguous', 'account_not_found'],
      handler: async ({ body }) => permissionView(await permissions.grant(body, body.pattern, body.actions)),
      action: 'permission.grant',
      audit: (_input, granted) => ({ target: String(granted.id), details: grantDetails(granted) }),
    }),
    defineRoute<{ id: number }, Record<string, never>, undefined, Permission>({
      method: 'DELETE',
      path: '/permissions/{id}',
      operationId: 'revokePermission',
      tag: 'permissions',
      summary: 'Revoke a grant',
      access: 'admin',
      schema: { params: s.permissionId },
      status: 204,
      errors: ['permission_not_found'],
      handler: async ({ params }) => permissions.revoke(params.id),
      action: 'permission.revoke',
      audit: ({ params }, revoked) => ({ target: String(params.id), details: grantDetails(permissionView(revoked)) }),
    }),

    defineRoute<Record<string, never>, AuditFilter>({
      method: 'GET',
      path: '/audit-events',
      operationId: 'listAuditEvents',
      tag: 'audit',
      summary: 'Audit events, newest first: logins, failed logins, token grants, pushes, deletes, admin changes',
      access: 'admin',
      schema: { querystring: s.auditQuery, response: s.auditEvents },
      status: 200,
      errors: [],
      handler: async ({ query }) => ({ events: (await access.auditEvents.list(query)).map(auditView) }),
    }),
  ];
}

function permissionView(p: Permission) {
  return { id: p.id, account: p.account_name, anonymous: p.account_name === null, pattern: p.pattern, actions: p.actions, createdAt: p.created_at.toISOString() };
}

function grantDetails(p: ReturnType<typeof permissionView>) {
  return { account: p.account, anonymous: p.anonymous, pattern: p.pattern, actions: p.actions };
}

function auditView(e: AuditRow) {
  return { id: e.id, at: e.at.toISOString(), actor: e.actor, actorKind: e.actor_kind, action: e.action, target: e.target, clientIp: e.client_ip, details: e.details };
}
