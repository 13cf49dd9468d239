/**
 * comlink as the control channel between the main thread and the worker threads (run, stop,
 * metrics, status). comlink ships its ES modules as .mjs files without an exports map, so they
 * are imported by path here, once. Data (change batches, delivery reports) never goes through
 * comlink: it uses plain MessagePorts with transferred buffers, which is much cheaper.
 */
import * as Comlink from 'comlink/dist/esm/comlink.mjs';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { MessagePort, Worker } from 'node:worker_threads';

export type Remote<T> = Comlink.Remote<T>;

/** Serves `api` to the thread at the other end of `port`. */
export function exposeApi(api: object, port: MessagePort): void {
  Comlink.expose(api, nodeEndpoint(port));
}

/** A typed proxy for the api a worker exposes on its parentPort. */
export function wrapWorker<T>(worker: Worker): Remote<T> {
  return Comlink.wrap<T>(nodeEndpoint(worker));
}

/** Frees the proxy's port so the worker can exit. */
export function releaseProxy(remote: Remote<unknown>): void {
  remote[Comlink.releaseProxy]();
}
