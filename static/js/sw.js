/* Kaopu's service worker, served at /sw.js (crm/views/app.py) so that it controls the whole
   site. It makes Kaopu installable (with static/manifest.webmanifest: My day is the home
   screen) and says so in the person's language when a page cannot load without signal:
   - pages: always from the network (they are live data); when that fails, the offline page
     cached at install (/offline/, rendered in the person's language);
   - our own static files (stylesheets, scripts, icons): the cached copy first when the name
     carries its hash (production), else the network first (`make run`, where files change).
   It keeps no data of its own and never answers a form's POST. */
"use strict";

var VERSION = "kaopu-1";
var OFFLINE = "/offline/";
// Production's static names carry their content's hash (ManifestStaticFilesStorage): such a
// file never changes, so the cached copy is served first.
var HASHED = /\.[0-9a-f]{12}\.\w+$/;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(VERSION).then(function (cache) {
      return cache.add(new Request(OFFLINE, { credentials: "same-origin" }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) { return name !== VERSION; })
        .map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(function () {
      return caches.match(OFFLINE);
    }));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.open(VERSION).then(function (cache) {
      var fromNetwork = fetch(request).then(function (response) {
        if (response.ok) cache.put(request, response.clone());
        return response;
      });
      if (!HASHED.test(url.pathname)) {  // `make run`'s unhashed names: fresh when online
        return fromNetwork.catch(function () { return cache.match(request); });
      }
      return cache.match(request).then(function (hit) { return hit || fromNetwork; });
    }));
  }
});
