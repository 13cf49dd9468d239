import { connect } from '@nats-io/transport-node';
const nc = await connect({ servers: process.argv[2] });
const sub = nc.subscribe('sequin.>');
for await (const m of sub) console.log(m.subject, m.headers?.get('Nats-Msg-Id'), m.string());
