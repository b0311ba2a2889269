/* SiteLens tracker: no cookies, no storage, no ids. */
(function (w, d) {
  var n = navigator, l = location, de = d.documentElement;
  var s = d.currentScript;
  if (!s || (w.sitelens && w.sitelens.sl)) return;
  var on = function (o, e, f, c) { o.addEventListener(e, f, c); };
  if (n.doNotTrack == "1" || n.globalPrivacyControl ||
      ((/^(localhost|127(\.\d+){3}|\[::1\])$/.test(l.hostname) || l.protocol == "file:") && !s.hasAttribute("data-allow-local")))
    return void (w.sitelens = function () {});
  var site = s.getAttribute("data-site") || l.hostname;
  var api = s.getAttribute("data-api") || new URL(s.src, l.href).origin + "/api/event";
  var dl = /\.(pdf|zip|dmg|exe|msi|deb|rpm|apk|iso|csv|xlsx?|docx?|pptx?|epub|mp3|mp4|wav|mov|avi|mkv|gz|7z|rar)$/i;
  var key, url, title, ms = 0, t0 = 0, depth = 0;

  function send(p, u, t) {
    p.site = site;
    p.url = u || l.href;
    p.title = t == null ? d.title : t;
    p.screen = screen.width + "x" + screen.height;
    if (n.webdriver) p.webdriver = true;
    var b = JSON.stringify(p);
    try {
      if (n.sendBeacon(api, new Blob([b], { type: "text/plain" }))) return;
    } catch (e) {}
    fetch(api, { method: "POST", keepalive: true, body: b }).catch(function () {});
  }

  function track(name, props) {
    var o = {}, k;
    if (!name) return;
    for (k in props) if (props[k] != null) o[k] = String(props[k]);
    send({ type: "event", name: String(name), props: o });
  }

  function scroll() {
    var h = Math.max(de.scrollHeight, (d.body || de).scrollHeight);
    depth = Math.max(depth, Math.min(100, Math.round((w.scrollY + w.innerHeight) / h * 100)));
  }

  // Engaged time: visible time only, sent as a delta.
  function tick(stop) {
    if (t0) ms += Date.now() - t0;
    t0 = !stop && d.visibilityState == "visible" ? Date.now() : 0;
  }

  function engage(stop) {
    if (stop) scroll();
    tick(stop);
    if (url && ms > 0) send({ type: "engagement", engaged_ms: ms, scroll: depth }, url, title);
    ms = 0;
  }

  function page() {
    var k = l.pathname + l.hash, p = { type: "pageview" };
    if (k == key) return;
    setTimeout(scroll, key ? 300 : 0); // an SPA route renders after pushState
    if (key) engage();
    if (!url) p.referrer = d.referrer;
    key = k; url = l.href; title = d.title; depth = ms = 0;
    tick();
    send(p);
  }

  function click(e) {
    var t = e.target, a, el, o = {}, i, at, u;
    if (e.type == "auxclick" && e.button != 1) return;
    if ((el = t.closest("[data-sl-event]"))) {
      for (i = 0; i < el.attributes.length; i++) {
        at = el.attributes[i];
        if (!at.name.indexOf("data-sl-prop-")) o[at.name.slice(13)] = at.value;
      }
      track(el.getAttribute("data-sl-event"), o);
    }
    if (!(a = t.closest("a[href]"))) return;
    try { u = new URL(a.getAttribute("href"), d.baseURI); } catch (x) { return; }
    if (!/^https?:$/.test(u.protocol)) return;
    if (dl.test(u.pathname)) track("File Download", { url: u.href });
    else if (u.host != l.host) track("Outbound Link", { url: u.href });
  }

  // Form identity only, never field values.
  function submit(e) {
    var f = e.target, id;
    if (f.tagName != "FORM") return;
    id = f.getAttribute("id") || f.getAttribute("name");
    if (!id) try { id = new URL(f.getAttribute("action") || "", d.baseURI).pathname; } catch (x) { id = ""; }
    track("Form Submit", { form: id });
  }

  function start() {
    if (start.on) return;
    start.on = 1;
    var q = w.sitelens.q || [], h = history, i;
    w.sitelens = function (cmd, name, props) {
      if (cmd == "event") track(name, props);
    };
    w.sitelens.sl = 1;
    ["pushState", "replaceState"].forEach(function (m) {
      var f = h[m];
      h[m] = function () { var r = f.apply(this, arguments); page(); return r; };
    });
    on(w, "popstate", page);
    on(w, "hashchange", page);
    on(w, "scroll", scroll, { passive: true });
    on(w, "pagehide", function () { engage(1); });
    // A page restored from the back/forward cache is viewed again.
    on(w, "pageshow", function (e) { if (e.persisted) { key = ""; page(); } });
    on(d, "visibilitychange", function () { d.visibilityState == "hidden" ? engage(1) : tick(); });
    on(d, "click", click, true);
    on(d, "auxclick", click, true);
    on(d, "submit", submit, true);
    page();
    for (i = 0; i < q.length; i++) w.sitelens.apply(w, q[i]);
  }

  w.sitelens = w.sitelens || function () { (w.sitelens.q = w.sitelens.q || []).push(arguments); };
  if (d.prerendering || d.visibilityState == "prerender") {
    on(d, "prerenderingchange", start);
    on(d, "visibilitychange", function () { d.visibilityState == "visible" && start(); });
  } else start();
})(window, document);
