/**
 * Last-resort cleanup of the servers a test process started, so that a crashed or
 * interrupted run leaves no Postgres or NATS behind (they run detached from our process
 * group, see process.ts, so nothing else would stop them).
 *
 * Hooks must be synchronous: they run from process 'exit', where the event loop is gone.
 */
type Hook = () => void;

const hooks = new Set<Hook>();
const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

function runHooks(): void {
  for (const hook of [...hooks]) {
    hooks.delete(hook);
    try {
      hook();
    } catch {
      // Keep going: one failed cleanup must not leave the other servers running.
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  // If someone else handles this signal (the test runner, the demo's graceful shutdown),
  // leave it to them: they either dispose the servers or exit, which runs the 'exit' hook.
  if (process.listenerCount(signal) > 1) return;
  runHooks();
  // We were the only listener, so the default action (terminate) was suppressed by us:
  // restore it and re-raise, so the process dies of the signal as it would have.
  for (const s of signals) process.removeListener(s, onSignal);
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runHooks);
  for (const s of signals) process.on(s, onSignal);
}

/** Registers a synchronous hook run at process exit; returns a function that removes it. */
export function onProcessExit(hook: Hook): () => void {
  install();
  hooks.add(hook);
  return () => {
    hooks.delete(hook);
  };
}

/**
 * The key of `await using` disposal. Node 20.4+ defines Symbol.asyncDispose; the fallback
 * keeps older runtimes loading this module (they just cannot use `await using`).
 */
export const asyncDispose: typeof Symbol.asyncDispose = (Symbol.asyncDispose ??
  Symbol.for('Symbol.asyncDispose')) as typeof Symbol.asyncDispose;
