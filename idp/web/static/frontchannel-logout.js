/* Front-channel logout (OpenID Connect Front-Channel Logout 1.0 §4).
 *
 * The page holds one hidden iframe per portal of the ended session; each loads that portal's
 * frontchannel_logout_uri with iss and sid. Once every frame has fired "load", or after three
 * seconds (a portal that is down, slow or refuses to be framed must not keep the citizen here),
 * the browser goes on to the address of the "Continue" link: the portal's
 * post_logout_redirect_uri with state, or our own page.
 *
 * Included before the frames and not deferred: the capturing listener on the document sees
 * every frame's load event, also one that fires before the page has been parsed.
 * A static file because the Content-Security-Policy allows no inline script.
 */
(function () {
  "use strict";

  var TIMEOUT_MS = 3000;
  var loaded = [];
  var parsed = false;
  var timedOut = false;
  var left = false;

  function proceed() {
    var link = document.getElementById("frontchannel-continue");
    if (left || !link) {
      return;
    }
    left = true;
    window.location.replace(link.href);
  }

  function check() {
    var box = document.getElementById("frontchannel-logout");
    var frames = box ? box.getElementsByTagName("iframe") : [];
    for (var i = 0; i < frames.length; i += 1) {
      if (loaded.indexOf(frames[i]) < 0) {
        return;
      }
    }
    proceed();
  }

  document.addEventListener("load", function (event) {
    var target = event.target;
    if (target && target.tagName === "IFRAME" && loaded.indexOf(target) < 0) {
      loaded.push(target);
      if (parsed) {
        check();
      }
    }
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    parsed = true;
    if (timedOut) {
      proceed();
    } else {
      check();
    }
  });

  window.setTimeout(function () {
    timedOut = true;
    proceed();
  }, TIMEOUT_MS);
})();
