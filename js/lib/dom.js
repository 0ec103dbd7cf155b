// Tiny DOM helpers: every node is made with createElement and every text goes through
// textContent, so prompt or error text from the kernel can never become markup.

/**
 * @typedef {Object} ElementOptions
 * @property {string} [className] space-separated classes
 * @property {string} [text] text content (set with textContent)
 * @property {Record<string, string>} [attrs] attributes to set
 */

/**
 * Create an element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {ElementOptions} [options]
 * @param {Node[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined) node.textContent = options.text;
  for (const [name, value] of Object.entries(options.attrs ?? {})) node.setAttribute(name, value);
  for (const child of children) node.appendChild(child);
  return node;
}

/**
 * Replace all children of `parent` with `children`.
 * @param {Element} parent
 * @param {Node[]} children
 */
export function replaceChildren(parent, children) {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  for (const child of children) parent.appendChild(child);
}

/**
 * Set textContent only when it changed (avoids needless layout on every progress tick).
 * @param {Element} node
 * @param {string} text
 */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/**
 * Show or hide a node with the `hidden` attribute.
 * @param {HTMLElement} node
 * @param {boolean} visible
 */
export function show(node, visible) {
  node.hidden = !visible;
}
