import { collectMessages, startNats, startPostgres } from './harness/index.js';
import { confirmedFlushLsn, currentWalLsn } from './support/slot.js';
import { runArgs, Wal2NatsProcess } from './support/wal2nats-process.js';
const [pg, nats] = await Promise.all([startPostgres(), startNats({ jetstream: false })]);
const nc = await nats.connect();
const url = await pg.createDatabase('routing');
const c = await pg.connect('routing');
await c.query(`CREATE SCHEMA audit; CREATE TABLE public.orders (id int PRIMARY KEY); CREATE TABLE public.items (id int PRIMARY KEY); CREATE TABLE public.secret (id int PRIMARY KEY); CREATE TABLE audit.login_log (id int PRIMARY KEY); CREATE TABLE audit.archive (id int PRIMARY KEY); CREATE PUBLICATION wal2nats FOR ALL TABLES;`);
const all = collectMessages(nc, '>');
const w2n = new Wal2NatsProcess(runArgs({ postgresUrl: url, natsUrl: nats.url, extra: ['--slot', 'routing', '--subject-prefix', 'acme.cdc.v1', '--database-name', 'shop eu', '--tables', 'public.*,audit.*_log', '--exclude-tables', 'public.secret', '--actions', 'insert,update,truncate'] }));
await w2n.streaming();
const http = await w2n.httpBase();
const show = async (label: string) => {
  const m = await (await fetch(`${http}/metrics`)).text();
  console.log(label, 'confirmed', await confirmedFlushLsn(pg, 'routing', 'routing'), 'wal', await currentWalLsn(pg, 'routing'), 'msgs', all.messages.length);
  console.log(m.split('\n').filter((l) => /^wal2nats_(mailbox|changes_received|messages_published|confirmed|backoff)/.test(l)).join('\n'));
};
const steps = [
  `BEGIN; INSERT INTO public.orders VALUES (1); INSERT INTO public.items VALUES (1); INSERT INTO public.secret VALUES (1); INSERT INTO audit.login_log VALUES (1); INSERT INTO audit.archive VALUES (1); COMMIT`,
  `BEGIN; UPDATE public.orders SET id = 2 WHERE id = 1; DELETE FROM public.items WHERE id = 1; COMMIT`,
  'TRUNCATE public.items, audit.login_log, public.secret',
  'INSERT INTO public.orders VALUES (3)',
];
for (const sql of steps) {
  await c.query(sql);
  await new Promise((r) => setTimeout(r, 1500));
  await show(sql.slice(0, 40));
}
console.log(JSON.stringify(await (await fetch(`${http}/api/messages?state=inflight`)).json()).slice(0, 1000));
w2n.kill(); await c.end(); await nc.close(); await Promise.all([pg.dispose(), nats.dispose()]);
