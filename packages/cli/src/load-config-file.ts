/** Reads a --config file: YAML (a superset of JSON), one object of option keys. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { configError, errorMessage } from '@wal2nats/core';

export function loadConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
    throw configError('config', `cannot read ${path} (${code})`);
  }
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (error) {
    throw configError('config', `${path} is not valid YAML or JSON: ${errorMessage(error).split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw configError('config', `${path} must hold one object of options (key: value)`);
  return parsed as Record<string, unknown>;
}
