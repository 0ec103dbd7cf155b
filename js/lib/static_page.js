// Is this view being drawn in an exported page (nbconvert's HTML, whose saved widget state the
// @jupyter-widgets/html-manager renders when it can reach its CDN)? There is no kernel there: the
// card could never fetch its video. Each widget's static twin output (seedance_widgets/widgets/
// _share.py) already shows the job with its video beside it, so the views draw nothing at all.
// Only such pages hold the saved state as a script tag; JupyterLab, Notebook 7 and VS Code never do.

const STATE_SCRIPT = 'script[type="application/vnd.jupyter.widget-state+json"]';

/**
 * @param {Document} [doc]
 * @returns {boolean}
 */
export function inExportedPage(doc = document) {
  return doc.querySelector(STATE_SCRIPT) !== null;
}
