// One import for tests: `import { startPostgres, startNats, waitFor } from './harness/index.js'`.
export { freePort } from './free-port.js';
export { startPostgres, PgServer } from './postgres.js';
export type { PostgresOptions, ShutdownMode } from './postgres.js';
export { startNats, NatsServer } from './nats.js';
export type { NatsOptions } from './nats.js';
export { waitFor, collectMessages } from './wait.js';
export type { WaitOptions, CollectedMessage, MessageCollector, CollectOptions } from './wait.js';
