/**
 * Shows a message body from its exact JSON text: a tokenizer indents and colours it without
 * parsing, because JSON.parse would round int8 values that the body carries with every digit.
 */
import { h } from './dom.js';

export function prettyJson(text: string): DocumentFragment {
  const frag = document.createDocumentFragment();
  let depth = 0;
  let i = 0;
  const n = text.length;
  const pad = (): string => `\n${'  '.repeat(Math.max(0, depth))}`;
  const put = (cls: string | null, s: string): void => {
    frag.appendChild(cls ? h('span', { class: cls, text: s }) : document.createTextNode(s));
  };
  while (i < n) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const str = text.slice(i, Math.min(n, j + 1));
      let k = j + 1;
      while (k < n && /\s/.test(text[k]!)) k++;
      put(text[k] === ':' ? 'k' : 's', str);
      i = j + 1;
    } else if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      let m = i + 1;
      while (m < n && /\s/.test(text[m]!)) m++;
      if (text[m] === close) {
        put('p', c + close);
        i = m + 1;
        continue;
      }
      depth++;
      put('p', c);
      put(null, pad());
      i++;
    } else if (c === '}' || c === ']') {
      depth--;
      put(null, pad());
      put('p', c);
      i++;
    } else if (c === ',') {
      put('p', ',');
      put(null, pad());
      i++;
    } else if (c === ':') {
      put('p', ': ');
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else {
      let e = i;
      while (e < n && !/[\s,:\]}]/.test(text[e]!)) e++;
      if (e === i) e = i + 1;
      const word = text.slice(i, e);
      put(/^(true|false|null)$/.test(word) ? 'b' : 'n', word);
      i = e;
    }
  }
  return frag;
}
