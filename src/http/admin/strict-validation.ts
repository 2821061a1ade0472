/**
 * Validation for the retention routes' requests. Fastify's default Ajv *removes* properties a
 * schema does not know; for a retention policy that would turn a misspelt keep rule into no keep
 * rule — and more deletions. Here an unknown property is a 400. Query strings and path parameters
 * are still coerced from strings.
 */
import { Ajv } from 'ajv';
import type { FastifyInstance } from 'fastify';

const bodies = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: false, strict: false });
const parameters = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: 'array', strict: false });

export function strictValidation(scope: FastifyInstance): void {
  scope.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodies : parameters).compile(schema));
}
