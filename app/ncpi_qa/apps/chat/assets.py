"""The chat page's theme, CSS and the small script that makes rendered HTML clickable.

Colours are chosen for WCAG AA contrast (4.5:1 for text) on the light theme. The script
has no dependencies and fetches nothing: it copies answers to the clipboard and scrolls the
quote a click on a ``[data-action]`` element brings up into view (the click itself reaches
the server as its HTML component's click event: ``app.ACTION_JS``). ``pagejs.PAGE_JS`` (also
in the head) keeps each tab's conversation in localStorage under that tab's own key, jumps
within a document (outline, page number), takes a keyboard user to the newest answer's
sources, puts focus back in the question box after an answer, and refuses a file over the
size limit in the upload panel before it is sent.
"""

from __future__ import annotations


def theme():
    """System fonts only (the default theme's web fonts would be a fetch), AA colours."""
    import gradio as gr

    t = gr.themes.Default(
        primary_hue=gr.themes.colors.blue,
        font=["system-ui", "sans-serif"],
        font_mono=["monospace"],
    )
    return t.set(
        button_primary_background_fill="#1d4ed8",
        button_primary_background_fill_hover="#1e40af",
        button_primary_text_color="#ffffff",
        button_primary_text_color_hover="#ffffff",
        button_primary_border_color="#1d4ed8",
        body_text_color_subdued="#4b5563",
        block_label_text_color="#374151",
        block_title_text_color="#374151",
        input_placeholder_color="#6b7280",
    )


CSS = """
footer { display: none !important; }
button[role="tab"].selected { color: #1d4ed8 !important; }
#intro h1 { font-size: 1.5rem; margin: 0.2em 0; }
#intro p { margin: 0; color: #374151; }
.ncpi-hidden { display: none !important; }
#chatlog { max-height: 60vh; overflow-y: auto; padding: 0.25rem; }
#chatlog .empty { color: #4b5563; font-style: italic; }
#chatlog .turn { margin: 0 0 1rem; }
#chatlog .msg { border-radius: 10px; padding: 0.5rem 0.75rem; margin: 0.3rem 0; color: #111827; }
#chatlog .msg.user { background: #eef2ff; margin-left: 15%; }
#chatlog .msg.bot { background: #f9fafb; border: 1px solid #d1d5db; margin-right: 5%; }
#chatlog .who { display: block; font-size: 0.8rem; font-weight: 600; color: #374151; }
#chatlog p { margin: 0.25rem 0; line-height: 1.5; }
#chatlog .answer.error { color: #991b1b; }
#chatlog .context-note, #chatlog .note {
  font-size: 0.9rem; color: #374151; font-style: italic; }
#chatlog .cite-ref { background: none; border: none; padding: 0 1px; color: #1d4ed8;
  text-decoration: underline; cursor: pointer; font: inherit; font-weight: 600; }
#chatlog .chips { list-style: none; padding: 0; margin: 0.4rem 0; display: flex;
  flex-wrap: wrap; gap: 0.35rem; }
#chatlog .chip { border: 1px solid #1d4ed8; color: #1e3a8a; background: #ffffff;
  border-radius: 12px; padding: 0.15rem 0.6rem; font-size: 0.85rem; cursor: pointer;
  text-align: left; }
#chatlog .chip:hover, #chatlog .chip:focus { background: #dbeafe; }
#chatlog .actions { display: flex; gap: 0.4rem; margin-top: 0.3rem; }
#chatlog .actions button { border: 1px solid #9ca3af; background: #ffffff; color: #111827;
  border-radius: 6px; padding: 0.1rem 0.5rem; font-size: 0.85rem; cursor: pointer; }
#chatlog .actions button[aria-pressed="true"] { background: #dbeafe; border-color: #1d4ed8; }
.sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0; }
.status { min-height: 1.2em; margin: 0.2rem 0; color: #374151; font-size: 0.9rem; }
.hint { color: #4b5563; font-size: 0.85rem; margin: 0; }
.examples-title { font-size: 1rem; margin: 0.6rem 0 0.2rem; }
#examples button { white-space: normal; height: auto; text-align: left; }
.ncpi-panel { color: #111827; }
.ncpi-panel h2 { font-size: 1.1rem; margin: 0.2em 0 0.4em; }
.ncpi-panel .for, .ncpi-panel .meta { color: #374151; font-size: 0.9rem; }
.ncpi-panel .empty { color: #4b5563; font-style: italic; }
.ncpi-panel .passage { white-space: pre-wrap; line-height: 1.55; margin: 0.5em 0;
  max-height: 55vh; overflow-y: auto; border-left: 3px solid #d1d5db; padding-left: 0.6rem; }
.ncpi-panel .passage:focus-visible { outline: 2px solid #1d4ed8; outline-offset: 2px; }
.ncpi-panel mark { background: #ffe066; color: #111111; padding: 0 2px; border-radius: 2px; }
.ncpi-panel button.open-doc { background: none; border: none; color: #1d4ed8;
  text-decoration: underline; cursor: pointer; padding: 0; font: inherit; text-align: left; }
.ncpi-panel table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
.ncpi-panel th, .ncpi-panel td { border-bottom: 1px solid #d1d5db; padding: 0.3rem;
  text-align: left; vertical-align: top; }
.ncpi-panel summary { cursor: pointer; color: #1f2937; }
.ncpi-panel a.back { color: #1d4ed8; }
.ncpi-panel .page-image img { max-width: 100%; height: auto; border: 1px solid #d1d5db; }
.skip-link { position: absolute; left: -10000px; top: auto; width: 1px; height: 1px;
  overflow: hidden; }
.skip-link:focus { position: static; width: auto; height: auto; display: inline-block;
  padding: 0.2rem 0.5rem; background: #ffffff; color: #1d4ed8; border: 2px solid #1d4ed8;
  border-radius: 6px; }
#notice .notice:empty { display: none; }
#notice .notice { margin: 0.2rem 0; padding: 0.3rem 0.6rem; border-radius: 6px;
  background: #fef3c7; color: #111827; border: 1px solid #d97706; font-size: 0.9rem; }
#notice .notice.added { background: #dcfce7; border-color: #15803d; }
#notice .notice.removed { background: #e0e7ff; border-color: #4338ca; }
#chatlog .note.indexing { color: #92400e; }
.upload-progress progress { width: 100%; height: 0.8rem; }
.upload-progress .status { margin-bottom: 0.2rem; }
.ncpi-panel .outline details { margin: 0.3rem 0; }
.ncpi-panel .outline ol { max-height: 30vh; overflow-y: auto; margin: 0.2rem 0;
  padding-left: 1.2rem; font-size: 0.9rem; }
.ncpi-panel .outline a { color: #1d4ed8; }
.ncpi-panel .outline .lvl-2 { margin-left: 0.8rem; }
.ncpi-panel .outline .lvl-3, .ncpi-panel .outline .lvl-4 { margin-left: 1.6rem; }
.ncpi-panel .page-jump { margin: 0.3rem 0; font-size: 0.9rem; }
.ncpi-panel .page-jump input { width: 5rem; padding: 0.1rem 0.3rem; border: 1px solid #6b7280;
  border-radius: 4px; }
.ncpi-panel .page-jump button, .ncpi-panel button.remove, .ncpi-panel button.remove-yes,
.ncpi-panel button.remove-no { border: 1px solid #6b7280; background: #ffffff;
  color: #111827; border-radius: 6px; padding: 0.05rem 0.5rem; cursor: pointer; }
.ncpi-panel button.remove-yes { border-color: #991b1b; color: #991b1b; }
.ncpi-panel .page-start::before { content: "p. " attr(data-page); display: inline-block;
  margin: 0 0.3rem; padding: 0 0.3rem; font-size: 0.75rem; color: #374151;
  border: 1px solid #9ca3af; border-radius: 4px; }
.ncpi-panel .anchor:focus, .ncpi-panel .page-start:focus { outline: 2px solid #1d4ed8; }
#chatlog .tier-label { margin: 0.2rem 0 0; font-size: 0.85rem; font-weight: 600;
  color: #4b5563; }
#chatlog .answer.tier-closest, #chatlog .answer.tier-none { color: #374151;
  border-left: 3px dashed #9ca3af; padding-left: 0.5rem; }
#chatlog .answer.tier-closest { font-style: italic; }
#chatlog .closest-list ol { list-style: none; padding: 0; margin: 0.3rem 0;
  display: flex; flex-direction: column; gap: 0.3rem; }
#chatlog button.near { display: block; width: 100%; text-align: left; cursor: pointer;
  border: 1px solid #9ca3af; background: #ffffff; color: #111827; border-radius: 8px;
  padding: 0.3rem 0.5rem; font: inherit; font-size: 0.9rem; }
#chatlog button.near:hover, #chatlog button.near:focus { background: #eff6ff;
  border-color: #1d4ed8; }
#chatlog .near-label { display: block; font-weight: 600; color: #1e3a8a; }
#chatlog .excerpt { display: block; color: #374151; }
.ncpi-panel .tier-label { color: #374151; font-size: 0.9rem; font-weight: 600; }
.ncpi-panel .page-image .page-scroll { max-height: 45vh; overflow: auto; }
.ncpi-panel .page-image button.zoom { border: 1px solid #6b7280; background: #ffffff;
  color: #111827; border-radius: 6px; padding: 0.1rem 0.5rem; cursor: pointer;
  margin: 0.2rem 0; font: inherit; font-size: 0.9rem; }
.ncpi-panel .page-image.zoomed { position: fixed; inset: 0; z-index: 1000; margin: 0;
  background: #f3f4f6; overflow: auto; padding: 0.5rem; }
.ncpi-panel .page-image.zoomed button.zoom { position: sticky; top: 0; left: 0; z-index: 1; }
.ncpi-panel .page-image.zoomed .page-scroll { max-height: none; overflow: visible; }
.ncpi-panel .page-image.zoomed img { max-width: none; }
.sources-view .file { overflow-wrap: anywhere; }
.sources-view .said { margin: 0.2rem 0 0.4rem; padding: 0.3rem 0.5rem;
  border-radius: 6px; background: #fef3c7; border: 1px solid #d97706; }
@media (min-width: 900px) {
  #side-column { position: sticky; top: 0.5rem; align-self: flex-start;
    max-height: calc(100vh - 1rem); overflow-y: auto; }
}
@media (max-width: 640px) {
  .sources-view table, .sources-view tbody,
  .sources-view tr, .sources-view td { display: block; width: 100%; }
  .sources-view thead { position: absolute; width: 1px; height: 1px;
    overflow: hidden; clip: rect(0, 0, 0, 0); }
  .sources-view tr { border: 1px solid #d1d5db; border-radius: 8px;
    margin: 0 0 0.5rem; padding: 0.3rem 0.5rem; box-sizing: border-box; }
  .sources-view td { border: none; padding: 0.15rem 0; }
  .sources-view td[data-label]::before { content: attr(data-label) ": ";
    font-weight: 600; color: #374151; }
  #ask-row { flex-wrap: wrap; }
  #ask-row > #question { flex: 1 1 100% !important; min-width: 100% !important; }
  #ask-row > #ask { flex: 1 1 100% !important; }
  #chatlog { max-height: none; }
  #chatlog .msg.user { margin-left: 0; }
  #chatlog .msg.bot { margin-right: 0; }
  .ncpi-panel .passage { max-height: 45vh; }
}
"""

HEAD = r"""
<script>
(function () {
  // One light theme, whose colours are checked for AA contrast: a system dark preference
  // would switch Gradio to dark colours around this page's light cards.
  function light() {
    if (document.body && document.body.classList.contains('dark')) {
      document.body.classList.remove('dark');
    }
  }
  light();
  new MutationObserver(light).observe(document.documentElement, {
    attributes: true, subtree: true, attributeFilter: ['class'] });
  // Bring an element of the side panel into view by scrolling only the boxes it is in
  // (the passage, the side column), never the window, so the chat stays where it is; on a
  // phone, where the panel is below the chat, the window scrolls to it (Back links return).
  window.ncpiReveal = function (el) {
    var box = el.parentElement;
    while (box && box !== document.body && box !== document.documentElement) {
      var oy = getComputedStyle(box).overflowY;
      if ((oy === 'auto' || oy === 'scroll') && box.scrollHeight > box.clientHeight) {
        var b = box.getBoundingClientRect(), r = el.getBoundingClientRect();
        box.scrollTop += (r.top - b.top) - (box.clientHeight - Math.min(r.height,
          box.clientHeight)) / 2;
      }
      box = box.parentElement;
    }
    var r2 = el.getBoundingClientRect();
    if (r2.bottom <= 0 || r2.top >= window.innerHeight) {
      el.scrollIntoView({ block: 'center', behavior: 'auto' });
    }
  };
  // a click that opens a quote: the quote it brings up is scrolled to once it is drawn
  function expect(action) {
    if (/^(cite|doc|near):/.test(action)) {
      // only the quote this click brings up is scrolled to, not the one shown now
      document.querySelectorAll('#panel mark, #panel .closest-view').forEach(function (old) {
        old.setAttribute('data-seen', '1');
      });
      window.__ncpiScroll = true;
      var m = /^cite:(\d+):(\d+)$/.exec(action);
      var shown = m && document.querySelector(
        '#panel .citation-view[data-turn="' + m[1] + '"][data-n="' + m[2] + '"] mark');
      if (shown) {  // already open: the page will not change, so scroll to it now
        window.__ncpiScroll = false;
        window.ncpiReveal(shown);
      }
    }
  }
  function copyText(text, el) {
    function done() {
      el.textContent = 'Copied';
      setTimeout(function () { el.textContent = 'Copy'; }, 1500);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
    } else { fallback(text); done(); }
  }
  function fallback(text) {
    var ta = document.createElement('textarea');
    ta.value = text; ta.setAttribute('readonly', ''); ta.style.position = 'fixed';
    ta.style.opacity = '0'; document.body.appendChild(ta); ta.select();
    try { document.execCommand('copy'); } catch (e) {}
    document.body.removeChild(ta);
  }
  // a page image shown at full size over the page, and back (the button, or Escape)
  function zoom(fig, on) {
    var btn = fig.querySelector('button.zoom');
    fig.classList.toggle('zoomed', on);
    btn.setAttribute('aria-expanded', on ? 'true' : 'false');
    btn.textContent = on ? 'Back to normal size' : 'Enlarge the page';
    btn.focus();
  }
  document.addEventListener('click', function (e) {
    var z = e.target.closest && e.target.closest('[data-zoom]');
    if (!z) { return; }
    e.preventDefault();
    var fig = z.closest('.page-image');
    zoom(fig, !fig.classList.contains('zoomed'));
  });
  document.addEventListener('keydown', function (e) {
    var fig = e.key === 'Escape' && document.querySelector('.page-image.zoomed');
    if (fig) { zoom(fig, false); }
  });
  document.addEventListener('click', function (e) {
    var el = e.target.closest && e.target.closest('[data-action]');
    if (!el) { return; }
    e.preventDefault();
    var action = el.getAttribute('data-action');
    if (action === 'copy') { copyText(el.getAttribute('data-copy') || '', el); return; }
    expect(action);
  });
  // a newly shown quote (citation or document) is scrolled into view once
  var observer = new MutationObserver(function () {
    var mark = document.querySelector(
      '#panel mark#quote-mark:not([data-seen]), #panel .closest-view:not([data-seen])');
    if (mark && window.__ncpiScroll) {
      window.__ncpiScroll = false;
      mark.setAttribute('data-seen', '1');
      setTimeout(function () { window.ncpiReveal(mark); }, 60);
    }
    var log = document.getElementById('chatlog');
    if (log && !log.hasAttribute('data-seen')) {
      log.setAttribute('data-seen', '1');
      log.scrollTop = log.scrollHeight;
    }
  });
  function start() { observer.observe(document.body, { childList: true, subtree: true }); }
  if (document.body) { start(); } else { document.addEventListener('DOMContentLoaded', start); }
})();
</script>
"""
