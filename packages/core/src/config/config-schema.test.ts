import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONFIG_SCHEMA, STATUS_SCHEMA, type Config, type StatusOptions } from './config-schema.js';
import { resolveConfig } from './resolve-config.js';

/** True only when A and B are the same type (not merely assignable one way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/**
 * The Config type is derived from the schema: these lines fail the type check (pnpm typecheck)
 * when the derivation gives an option the wrong type: a kind mapped wrongly, an unset option
 * typed as always there, an enum widened to string.
 */
const derived: [
  Equal<Config['postgresUrl'], string>,
  Equal<Config['databaseName'], string | undefined>,
  Equal<Config['natsPort'], number>,
  Equal<Config['maxBackoffMs'], number>,
  Equal<Config['jetstream'], boolean>,
  Equal<Config['tables'], string[]>,
  Equal<Config['messageKind'], 'changes' | 'records'>,
  Equal<Config['logLevel'], 'debug' | 'info' | 'warn' | 'error'>,
  Equal<keyof Config, keyof typeof CONFIG_SCHEMA>,
  Equal<
    StatusOptions,
    { httpUrl: string; httpTokenFile: string | undefined; httpToken: string | undefined; json: boolean }
  >,
] = [true, true, true, true, true, true, true, true, true, true];

describe('the Config type from the schema', () => {
  it('types every option by its kind (checked at compile time)', () => {
    assert.ok(derived.every(Boolean));
  });

  it('resolves to exactly the options of the schema, each with a value of its kind', () => {
    const config = resolveConfig({ flags: { 'postgres-url': 'postgres://u@h/db' }, env: {} });
    assert.deepEqual(Object.keys(config).sort(), Object.keys(CONFIG_SCHEMA).sort());
    const typeOf = {
      string: 'string',
      integer: 'number',
      duration: 'number',
      boolean: 'boolean',
      enum: 'string',
      list: 'object',
    } as const;
    for (const [name, spec] of Object.entries(CONFIG_SCHEMA)) {
      const value: unknown = config[name as keyof Config];
      if (value === undefined)
        assert.ok(
          !('default' in spec) && !('required' in spec),
          `${name} is unset although it has a default`,
        );
      else assert.equal(typeof value, typeOf[spec.kind], name);
    }
  });

  it('shares the HTTP token options of run with status: same flags, same environment variables', () => {
    assert.equal(STATUS_SCHEMA.httpTokenFile.flag, CONFIG_SCHEMA.httpTokenFile.flag);
    assert.equal(STATUS_SCHEMA.httpToken.flag, CONFIG_SCHEMA.httpToken.flag);
    assert.equal(STATUS_SCHEMA.httpToken.secret, true);
  });
});
