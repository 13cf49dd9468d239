/**
 * Every wal2nats message the end-to-end tests receive is held against the contract
 * (docs/contract.md): its body against the JSON Schema that @wal2nats/types publishes, its
 * subject against its metadata (parsed with the same package), its `Nats-Msg-Id` against
 * `metadata.idempotency_key`. Every way the tests receive messages checks them:
 * collectMessages() (wait.ts), the stream fixture's listeners (support/stream-fixture.ts) and
 * readStream() of a JetStream stream (support/stream.ts). (A second subscription to `>` per
 * server would see everything, but doubles the test process's work per message: under load it
 * made the 100,000-row test's own subscriber a slow consumer that the server dropped messages of.)
 */
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import { parseSubject, type Wal2NatsMessage } from '@wal2nats/types';

const schema = createRequire(import.meta.url)('@wal2nats/types/schema.json') as object;
const validateBody = new Ajv({ allErrors: true, strict: true }).compile<Wal2NatsMessage>(schema);

/**
 * What is wrong with a message, or null when it is as the contract says or when its subject is
 * not one that wal2nats makes (other traffic of the test's server).
 */
export function messageProblem(subject: string, body: string, msgId: string | undefined): string | null {
  if (parseSubject(subject) === null) return null;
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return `${subject}: the body is not JSON: ${body.slice(0, 200)}`;
  }
  return bodyProblem(subject, data, msgId);
}

/** messageProblem() of a body already parsed. */
export function bodyProblem(subject: string, data: unknown, msgId: string | undefined): string | null {
  const parsed = parseSubject(subject);
  if (parsed === null) return null;
  if (!validateBody(data))
    return `${subject}: the body does not match the schema: ${JSON.stringify(validateBody.errors).slice(0, 1000)} in ${JSON.stringify(data).slice(0, 500)}`;
  const { metadata } = data;
  const wrong: string[] = [];
  if (metadata.database_name !== parsed.database)
    wrong.push(`database ${parsed.database} ≠ metadata ${metadata.database_name}`);
  if (metadata.table_schema !== parsed.schema)
    wrong.push(`schema ${parsed.schema} ≠ metadata ${metadata.table_schema}`);
  if (metadata.table_name !== parsed.table)
    wrong.push(`table ${parsed.table} ≠ metadata ${metadata.table_name}`);
  if (parsed.kind === 'changes' && (!('action' in data) || data.action !== parsed.action))
    wrong.push(`a change subject (${parsed.action}) with a body that is not that change event`);
  if (parsed.kind === 'rows' && 'action' in data) wrong.push('a rows subject with a change event');
  if (msgId !== metadata.idempotency_key)
    wrong.push(`Nats-Msg-Id ${msgId} ≠ idempotency_key ${metadata.idempotency_key}`);
  return wrong.length === 0 ? null : `${subject}: ${wrong.join('; ')}`;
}
