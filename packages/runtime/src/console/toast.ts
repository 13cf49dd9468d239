import { $, h } from './dom.js';

/** A short note in the corner that goes away by itself. */
export function toast(text: string, bad = false): void {
  const el = h('div', { class: `toast${bad ? ' bad' : ''}`, text });
  $('toasts').appendChild(el);
  setTimeout(() => el.remove(), 3500);
}
