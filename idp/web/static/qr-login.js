/* Scan-to-login (扫码登录) on the sign-in page.
 *
 * Starts a QR ticket (POST /qr/start), shows the code, polls GET /qr/status and, once the
 * citizen confirmed on the phone, completes the sign-in (POST /qr/complete) and goes on to the
 * page the sign-in was for. Status texts come from the panel's data-text-* attributes (the
 * server translates them); the live status is in #qr-status (role=status, data-status).
 * A static file because the Content-Security-Policy allows no inline script.
 */
(function () {
  "use strict";

  var panel = document.getElementById("qr-login");
  if (!panel || !window.fetch || !window.JSON) {
    return; // the password form works on its own
  }
  var image = document.getElementById("qr-image");
  var statusLine = document.getElementById("qr-status");
  var refreshButton = document.getElementById("qr-refresh");
  var csrfInput = document.querySelector('input[name="csrf_token"]');
  var csrf = csrfInput ? csrfInput.value : "";
  var FINAL = { expired: true, denied: true, error: true };
  var MAX_POLL_FAILURES = 5;

  var ticket = null;
  var link = document.getElementById("qr-link");
  var linkBox = document.getElementById("qr-link-box");
  var interval = 1500;
  var timer = null;
  var generation = 0; // answers for an older ticket are ignored
  var failures = 0;

  function text(status) {
    var key = "text" + status.charAt(0).toUpperCase() + status.slice(1);
    return panel.dataset[key] || "";
  }

  function show(status) {
    statusLine.dataset.status = status;
    statusLine.textContent = text(status);
    panel.dataset.status = status;
    image.classList.toggle("qr-spent", status !== "waiting");
    refreshButton.hidden = !FINAL[status];
    if (FINAL[status] && status !== "error") {
      refreshButton.focus();
    }
  }

  function request(method, url, body) {
    var headers = { Accept: "application/json" };
    var init = { method: method, credentials: "same-origin", headers: headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["X-CSRFToken"] = csrf;
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.json().then(function (data) {
        return { ok: response.ok, data: data };
      });
    });
  }

  function stop() {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
  }

  function schedule(mine) {
    stop();
    timer = setTimeout(function () { poll(mine); }, interval);
  }

  function start() {
    stop();
    var mine = ++generation;
    ticket = null;
    failures = 0;
    show("loading");
    request("POST", panel.dataset.startUrl, { next: panel.dataset.next })
      .then(function (answer) {
        if (mine !== generation) { return; }
        if (!answer.ok || !answer.data.ticket_id || !answer.data.qr_svg) {
          show("error");
          return;
        }
        ticket = answer.data.ticket_id;
        panel.dataset.ticket = ticket;
        interval = Math.max(500, (answer.data.poll_interval || 1.5) * 1000);
        image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(answer.data.qr_svg);
        image.hidden = false;
        if (link && answer.data.qr_url) {
          link.href = answer.data.qr_url;
          link.textContent = answer.data.qr_url;
          linkBox.hidden = false;
        }
        show("waiting");
        schedule(mine);
      })
      .catch(function () {
        if (mine === generation) { show("error"); }
      });
  }

  function poll(mine) {
    var url = panel.dataset.statusUrl + "?ticket=" + encodeURIComponent(ticket);
    request("GET", url)
      .then(function (answer) {
        if (mine !== generation) { return; }
        failures = 0;
        var status = answer.data.status || (answer.ok ? "error" : "expired");
        if (status !== statusLine.dataset.status) { show(status); }
        if (status === "confirmed") {
          complete(mine);
        } else if (status === "waiting" || status === "scanned") {
          schedule(mine);
        }
      })
      .catch(function () { // a network blip: try again a few times
        if (mine !== generation) { return; }
        failures += 1;
        if (failures >= MAX_POLL_FAILURES) { show("error"); } else { schedule(mine); }
      });
  }

  function complete(mine) {
    request("POST", panel.dataset.completeUrl, { ticket_id: ticket })
      .then(function (answer) {
        if (mine !== generation) { return; }
        var target = answer.ok ? answer.data.redirect : null;
        // Only a local path: the server already checked it, this is belt and braces.
        if (typeof target === "string" && target.charAt(0) === "/" && target.charAt(1) !== "/"
            && target.indexOf("\\") < 0) {
          window.location.assign(target);
        } else {
          show(answer.data && answer.data.status === "expired" ? "expired" : "error");
        }
      })
      .catch(function () {
        if (mine === generation) { show("error"); }
      });
  }

  refreshButton.addEventListener("click", start);
  panel.hidden = false;
  start();
}());
