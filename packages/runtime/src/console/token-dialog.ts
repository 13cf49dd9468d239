/**
 * The dialog that asks for the HTTP token (--http-token / --http-token-file) when the API
 * answers 401: once per browser tab, or again when the stored token stops being accepted.
 */
import { api, ApiError, storedToken, storeToken } from './api.js';
import { $ } from './dom.js';
import { errorText } from './format.js';

let open = false;

export function isAskingForToken(): boolean {
  return open;
}

/** Shows the dialog; `onAccepted` runs once a token is accepted by /api/overview. */
export function askForToken(onAccepted: () => void): void {
  if (open) return;
  open = true;
  const hadToken = storedToken() !== null;
  storeToken(null);
  $('token-error').textContent = hadToken ? 'The stored token is no longer accepted.' : '';
  $('token-dialog').classList.remove('hidden');
  $<HTMLInputElement>('token-input').focus();
  const form = $<HTMLFormElement>('token-form');
  const submit = (event: Event): void => {
    event.preventDefault();
    const token = $<HTMLInputElement>('token-input').value.trim();
    if (token === '') return;
    storeToken(token);
    api('/api/overview').then(
      () => {
        form.removeEventListener('submit', submit);
        open = false;
        $<HTMLInputElement>('token-input').value = '';
        $('token-dialog').classList.add('hidden');
        onAccepted();
      },
      (error: unknown) => {
        storeToken(null);
        $('token-error').textContent =
          error instanceof ApiError && error.status === 401
            ? 'That token is not accepted.'
            : `Cannot check the token: ${errorText(error)}`;
      },
    );
  };
  form.addEventListener('submit', submit);
}
