"""The page script served in the head after ``assets.HEAD``: each tab's conversation kept in
localStorage under the tab's own key, focus back in the question box after an answer, jumps
within a document (outline, page number) and to the newest answer's sources, and files
refused in the upload panel before they are sent (over the size limit, or of a type the
index does not read), so the panel never shows an old message beside a new one.
"""

from __future__ import annotations

PAGE_JS = r"""
<script>
(function () {
  // -- each tab its own conversation: localStorage under this tab's key (kept in
  // sessionStorage, so a reload keeps it); a new tab takes over the newest conversation
  // whose tab has been closed, so closing and reopening the app keeps it.
  var TAB = 'ncpi-qa-tab', CONV = 'ncpi-qa-conv:', ALIVE = 'ncpi-qa-alive:';
  var KEEP = 20, MAX_AGE = 30 * 86400000, GONE = 12000;
  function store() { try { return window.localStorage; } catch (e) { return null; } }
  function entries() {
    var ls = store(), out = [];
    if (!ls) { return out; }
    for (var i = 0; i < ls.length; i++) {
      var k = ls.key(i);
      if (k && k.indexOf(CONV) === 0) {
        var t = 0;
        try { t = JSON.parse(ls.getItem(k)).t || 0; } catch (e) {}
        out.push({ id: k.slice(CONV.length), t: t });
      }
    }
    return out.sort(function (a, b) { return b.t - a.t; });
  }
  function prune() {
    var ls = store();
    if (!ls) { return; }
    entries().forEach(function (e, i) {
      if (i >= KEEP || Date.now() - e.t > MAX_AGE) {
        ls.removeItem(CONV + e.id); ls.removeItem(ALIVE + e.id);
      }
    });
  }
  function tabId() {
    if (window.__ncpiTab) { return window.__ncpiTab; }
    var id = null, ls = store();
    try { id = sessionStorage.getItem(TAB); } catch (e) {}
    if (!id && ls) {
      var orphan = entries().filter(function (e) {
        return Date.now() - (+ls.getItem(ALIVE + e.id) || 0) > GONE;
      })[0];
      id = orphan ? orphan.id : null;
    }
    id = id || (Date.now().toString(36) + Math.random().toString(36).slice(2, 10));
    try { sessionStorage.setItem(TAB, id); } catch (e) {}
    window.__ncpiTab = id;
    return id;
  }
  function alive() { var ls = store(); if (ls) { ls.setItem(ALIVE + tabId(), '' + Date.now()); } }
  window.ncpiLoadConv = function () {
    var ls = store();
    prune(); alive();
    setInterval(alive, 4000);
    window.addEventListener('pagehide', function () {
      if (ls) { ls.removeItem(ALIVE + tabId()); }
    });
    try { return (JSON.parse(ls.getItem(CONV + tabId())) || {}).v || ''; } catch (e) { return ''; }
  };
  window.ncpiSaveConv = function (value) {
    var ls = store();
    if (!ls) { return; }
    if (!value || value === '[]') { ls.removeItem(CONV + tabId()); return; }
    var item = JSON.stringify({ t: Date.now(), v: value });
    try { ls.setItem(CONV + tabId(), item); } catch (e) {  // full: drop the oldest, once
      prune(); try { ls.setItem(CONV + tabId(), item); } catch (e2) {}
    }
  };

  // -- focus back in the question box after an answer (unless the user went elsewhere)
  window.ncpiFocusBox = function () {
    var tries = 0;
    (function again() {
      var box = document.querySelector('#question textarea, #question input');
      var a = document.activeElement;
      var free = !a || a === document.body ||
        (a.closest && a.closest('#question, #ask, #examples'));
      if (!box || !free) { return; }
      if (!box.disabled) { box.focus(); }
      if (document.activeElement !== box && tries++ < 40) { setTimeout(again, 50); }
    })();
  };

  // -- jumps: outline entries, the page number form, the newest answer's sources
  function jumpTo(el) {
    if (!el) { return; }
    el.scrollIntoView({ block: 'start', behavior: 'auto' });
    try { el.focus({ preventScroll: true }); } catch (e) { el.focus(); }
  }
  function newestSources() {
    var turns = document.querySelectorAll('#chatlog .turn:not(.pending)');
    var last = turns[turns.length - 1];
    if (!last) { return document.querySelector('#question textarea'); }
    return last.querySelector('.cite-ref, .chip, .actions button') || last;
  }
  document.addEventListener('click', function (e) {
    var el = e.target.closest && e.target.closest('[data-jump], [data-jump-cites]');
    if (!el) { return; }
    e.preventDefault();
    if (el.hasAttribute('data-jump-cites')) { jumpTo(newestSources()); return; }
    jumpTo(document.getElementById(el.getAttribute('data-jump')));
  }, true);
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (!form.hasAttribute || !form.hasAttribute('data-page-jump')) { return; }
    e.preventDefault();
    var want = parseInt(form.querySelector('input').value, 10), best = null;
    document.querySelectorAll('#panel .page-start').forEach(function (p) {
      if (+p.getAttribute('data-page') <= want) { best = p; }
    });
    jumpTo(best || document.querySelector('#panel .page-start'));
  }, true);

  // -- a file over the size limit, or of a type the index does not read, is refused in the
  // upload panel, never sent (so no toast beside an old message); any other file replaces
  // the panel's old message at once with "Checking NAME…"
  function refusal(files) {
    var lim = document.getElementById('upload-limit');
    if (!lim || !files) { return null; }
    var max = +lim.getAttribute('data-max-bytes');
    var types = (lim.getAttribute('data-types') || '').split(' ');
    for (var i = 0; i < files.length; i++) {
      var f = files[i], dot = f.name.lastIndexOf('.');
      var ext = dot > 0 ? f.name.slice(dot).toLowerCase() : '';
      if (types.indexOf(ext) < 0) {
        return 'Skipped ' + f.name + ": unsupported file type '" + (ext || '(none)') +
          "' (accepted: " + types.join(', ') + '). Nothing was added; the index is unchanged.';
      }
      if (f.size > max) {
        return 'Skipped ' + f.name + ': file is ' + (f.size / 1048576).toFixed(1) +
          ' MB, over the ' + lim.getAttribute('data-max-mb') + ' MB limit (raise ' +
          'NCPI_QA_MAX_FILE_MB to index it). Nothing was added; the index is unchanged.';
      }
    }
    return null;
  }
  function say(text) {
    var box = document.getElementById('upload-status');
    if (!box) { return; }
    var old = box.querySelector('.status, .upload-progress');
    var where = old ? old.parentNode : box;
    var p = document.createElement('p');
    p.className = 'status'; p.setAttribute('role', 'status'); p.setAttribute('aria-live', 'polite');
    p.textContent = text;
    where.innerHTML = '';
    where.appendChild(p);
  }
  function chosen(e, files) {
    var why = refusal(files);
    if (!why) {
      if (files && files.length) { say('Checking ' + files[0].name + '…'); }
      return false;
    }
    e.stopImmediatePropagation(); e.preventDefault();
    say(why);
    return true;
  }
  ['change', 'input'].forEach(function (type) {
    document.addEventListener(type, function (e) {
      var t = e.target;
      if (!t || !t.matches || !t.matches('#upload input[type=file]')) { return; }
      if (chosen(e, t.files)) { try { t.value = ''; } catch (x) {} }
    }, true);
  });
  document.addEventListener('drop', function (e) {
    if (!e.target.closest || !e.target.closest('#upload')) { return; }
    chosen(e, e.dataTransfer && e.dataTransfer.files);
  }, true);

  // -- a confirmation button that appears takes the focus (Sources: Remove it / Keep it)
  new MutationObserver(function () {
    var el = document.querySelector('[data-autofocus]:not([data-focused])');
    if (el) { el.setAttribute('data-focused', '1'); el.focus(); }
  }).observe(document.documentElement, { childList: true, subtree: true });
})();
</script>
"""
