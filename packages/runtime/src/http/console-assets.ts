/**
 * The console's script files: the ES modules that `tsc` compiles from src/console (a project of
 * its own, with the DOM library) into dist/console. They are read once, at the first request,
 * and served as `/console/<name>.js`. The same path works from dist/http (the built package) and
 * from src/http (tests run with tsx), since both are two levels below the package.
 */
import { readdirSync, readFileSync } from 'node:fs';

const ASSET_DIR = new URL('../../dist/console/', import.meta.url);
const ASSET_NAME = /^[a-z][a-z0-9-]*\.js$/;

let cached: ReadonlyMap<string, string> | null = null;

/** Script name (e.g. `console.js`) → its text. Throws when the console was not built. */
export function consoleScripts(): ReadonlyMap<string, string> {
  if (cached) return cached;
  let names: string[];
  try {
    names = readdirSync(ASSET_DIR).filter((name) => ASSET_NAME.test(name));
  } catch {
    names = [];
  }
  if (!names.includes('console.js'))
    throw new Error(`the console's script is missing from ${ASSET_DIR.pathname}: run pnpm build`);
  cached = new Map(names.map((name) => [name, readFileSync(new URL(name, ASSET_DIR), 'utf8')]));
  return cached;
}
