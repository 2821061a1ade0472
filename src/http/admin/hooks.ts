/**
 * Git forge webhook receivers (no admin credentials: the shared secret authenticates them):
 *   POST /api/v1/hooks/github   X-Hub-Signature-256 (HMAC-SHA256 of the raw body)
 *   POST /api/v1/hooks/gitlab   X-Gitlab-Token
 * The body is kept as raw bytes, since the signature covers exactly those. Answers: 200 with what
 * was applied; 202 when a known event is ignored (replayed delivery, unmapped repository); 204
 * for events we do not act on.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BranchLifecycle } from '../../retention/branches.js';
import type { Forge } from '../../retention/webhooks.js';

/** GitHub caps deliveries at 25 MB; branch events are a few kB, but the check runs on the whole body. */
const MAX_HOOK_BODY = 25 * 1024 * 1024;

export function registerHookRoutes(app: FastifyInstance, lifecycle: BranchLifecycle): void {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_HOOK_BODY }, (_request, body, done) => done(null, body));
    const header = (request: FastifyRequest, name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const receive = async (forge: Forge, request: FastifyRequest, reply: FastifyReply) => {
      const github = forge === 'github';
      const outcome = await lifecycle.receive(forge, {
        event: header(request, github ? 'x-github-event' : 'x-gitlab-event'),
        deliveryId: header(request, github ? 'x-github-delivery' : 'x-gitlab-event-uuid'),
        credential: header(request, github ? 'x-hub-signature-256' : 'x-gitlab-token'),
        body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
      });
      if (outcome.status === 'applied') return reply.code(200).send(outcome);
      if (outcome.status === 'unhandled') return reply.code(204).send();
      return reply.code(202).send(outcome);
    };
    scope.post('/hooks/github', { bodyLimit: MAX_HOOK_BODY }, (request, reply) => receive('github', request, reply));
    scope.post('/hooks/gitlab', { bodyLimit: MAX_HOOK_BODY }, (request, reply) => receive('gitlab', request, reply));
  });
}
