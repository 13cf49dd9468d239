/**
 * Every wal2nats message the end-to-end tests receive is held against the contract
 * (docs/contract.md): its body against the JSON Schema that @wal2nats/types publishes, its
 * subject against its metadata (parsed with the same package), its `Nats-Msg-Id` against
 * `metadata.idempotency_key`. collectMessages() checks what it collects; useServers() watches
 * everything published on its server (test/support/servers.ts).
 */
import { createRequire } from 'node:module';
import type { NatsConnection } from '@nats-io/transport-node';
import { Ajv } from 'ajv';
import { parseSubject, type Wal2NatsMessage } from '@wal2nats/types';

const schema = createRequire(import.meta.url)('@wal2nats/types/schema.json') as object;
const validateBody = new Ajv({ allErrors: true, strict: true }).compile<Wal2NatsMessage>(schema);

/**
 * What is wrong with a message, or null when it is as the contract says or when its subject is
 * not one that wal2nats makes (other traffic of the test's server).
 */
export function messageProblem(subject: string, body: string, msgId: string | undefined): string | null {
  const parsed = parseSubject(subject);
  if (parsed === null) return null;
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return `${subject}: the body is not JSON: ${body.slice(0, 200)}`;
  }
  if (!validateBody(data)) return `${subject}: the body does not match the schema: ${JSON.stringify(validateBody.errors).slice(0, 1000)} in ${body.slice(0, 500)}`;
  const { metadata } = data;
  const wrong: string[] = [];
  if (metadata.database_name !== parsed.database) wrong.push(`database ${parsed.database} ≠ metadata ${metadata.database_name}`);
  if (metadata.table_schema !== parsed.schema) wrong.push(`schema ${parsed.schema} ≠ metadata ${metadata.table_schema}`);
  if (metadata.table_name !== parsed.table) wrong.push(`table ${parsed.table} ≠ metadata ${metadata.table_name}`);
  if (parsed.kind === 'changes' && (!('action' in data) || data.action !== parsed.action)) wrong.push(`a change subject (${parsed.action}) with a body that is not that change event`);
  if (parsed.kind === 'rows' && 'action' in data) wrong.push('a rows subject with a change event');
  if (msgId !== metadata.idempotency_key) wrong.push(`Nats-Msg-Id ${msgId} ≠ idempotency_key ${metadata.idempotency_key}`);
  return wrong.length === 0 ? null : `${subject}: ${wrong.join('; ')}`;
}

export interface MessageWatch {
  /** wal2nats messages seen so far. */
  readonly checked: () => number;
  /** What was wrong with any of them. */
  readonly problems: string[];
  close(): Promise<void>;
}

/** Checks every message published on `nc`'s server from now on, on that connection (give it its own). */
export function watchMessages(nc: NatsConnection): MessageWatch {
  const problems: string[] = [];
  let checked = 0;
  nc.subscribe('>', {
    callback: (error, msg) => {
      if (error || parseSubject(msg.subject) === null) return;
      checked++;
      const problem = messageProblem(msg.subject, msg.string(), msg.headers?.get('Nats-Msg-Id') || undefined);
      if (problem !== null) problems.push(problem);
    },
  });
  return { checked: () => checked, problems, close: () => nc.close() };
}
