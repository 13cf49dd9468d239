/**
 * The message of anything thrown, for logs and error texts: an Error's `message`, otherwise the
 * value as a string (a rejected promise may carry anything).
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
