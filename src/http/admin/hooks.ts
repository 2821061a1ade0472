/**
 * Git forge webhook receivers, authenticated by their shared secret instead of admin credentials:
 *   POST /api/v1/hooks/github   X-Hub-Signature-256 (HMAC-SHA256 of the raw body)
 *   POST /api/v1/hooks/gitlab   X-Gitlab-Token
 *
 * A small plugin of its own, encapsulated inside the admin API: the signature covers the exact
 * bytes sent, which the API's JSON parser does not keep, so here every body is taken as raw bytes
 * and parsed after the check. Failures keep the API's one error shape and table (the parent's
 * error handler): 401 unauthorized for a bad signature or token, 404 not_found for a receiver
 * without a secret, 400 invalid_request for a body or header that is not a forge event. Answers:
 * 200 with what was applied; 202 when a known event is ignored (replayed delivery, unmapped
 * repository); 204 for events we do not act on. They are not in the OpenAPI document, which
 * describes the admin API that people and tools call; these are the forges' contracts (README).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BranchLifecycle } from '../../retention/branches.js';
import type { Forge } from '../../retention/webhooks.js';

/** GitHub caps deliveries at 25 MB; branch events are a few kB, but the signature covers the whole body. */
const MAX_HOOK_BODY = 25 * 1024 * 1024;

const HEADERS: Record<Forge, { event: string; delivery: string; credential: string }> = {
  github: { event: 'x-github-event', delivery: 'x-github-delivery', credential: 'x-hub-signature-256' },
  gitlab: { event: 'x-gitlab-event', delivery: 'x-gitlab-event-uuid', credential: 'x-gitlab-token' },
};

export async function webhookReceivers(app: FastifyInstance, { branches }: { branches: BranchLifecycle }): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_HOOK_BODY }, (_request, body, done) => done(null, body));

  const receive = async (forge: Forge, request: FastifyRequest, reply: FastifyReply) => {
    const names = HEADERS[forge];
    const outcome = await branches.receive(forge, {
      event: header(request, names.event),
      deliveryId: header(request, names.delivery),
      credential: header(request, names.credential),
      body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
    });
    if (outcome.status === 'applied') return reply.code(200).send(outcome);
    if (outcome.status === 'unhandled') return reply.code(204).send();
    return reply.code(202).send(outcome);
  };
  app.post('/hooks/github', { bodyLimit: MAX_HOOK_BODY }, (request, reply) => receive('github', request, reply));
  app.post('/hooks/gitlab', { bodyLimit: MAX_HOOK_BODY }, (request, reply) => receive('gitlab', request, reply));
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
