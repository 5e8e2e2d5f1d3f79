/* Passkeys (WebAuthn): add one in the account centre, or confirm it is you with one on the
 * second-factor page (/login/verify).
 *
 * A panel [data-passkey] names the ceremony (data-passkey="register" or "verify"), the options
 * and finish URLs (data-options-url, data-finish-url), the CSRF token (data-csrf, sent as the
 * X-CSRFToken header), and for sign-in the page to go on to (data-next). The server answers the
 * options as JSON (base64url for binary fields), we turn them into ArrayBuffers, call
 * navigator.credentials.create()/get(), and post the result back as JSON; on success the server
 * says where to go ({"redirect": ...}). Errors appear in the panel's [role=alert] element.
 * Without WebAuthn (or without JavaScript) the panel stays hidden: the other factors still work.
 * A static file because the Content-Security-Policy allows no inline script.
 */
(function () {
  "use strict";

  var panels = document.querySelectorAll("[data-passkey]");
  if (!panels.length || !window.PublicKeyCredential || !navigator.credentials ||
      !window.fetch) {
    return;
  }

  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    b64 += "====".slice(0, (4 - (b64.length % 4)) % 4);
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) {
      out[i] = raw.charCodeAt(i);
    }
    return out.buffer;
  }

  function toText(buffer) {
    if (!buffer) {
      return null;
    }
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) {
      raw += String.fromCharCode(bytes[i]);
    }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      var copy = { type: item.type, id: toBytes(item.id) };
      if (item.transports) {
        copy.transports = item.transports;
      }
      return copy;
    });
  }

  function creationOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBytes(json.challenge);
    options.user = Object.assign({}, json.user, { id: toBytes(json.user.id) });
    options.excludeCredentials = descriptors(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    var options = Object.assign({}, json);
    options.challenge = toBytes(json.challenge);
    options.allowCredentials = descriptors(json.allowCredentials);
    return options;
  }

  function credentialJson(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ?
        credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      out.response.userHandle = toText(response.userHandle);
    }
    return out;
  }

  function post(panel, url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": panel.dataset.csrf
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () {
        return {};
      }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.error_description || panel.dataset.textFailed);
          error.fromServer = true;
          throw error;
        }
        return data;
      });
    });
  }

  function run(panel, button) {
    var alertBox = panel.querySelector("[role=alert]");
    var register = panel.dataset.passkey === "register";
    alertBox.hidden = true;
    alertBox.textContent = "";
    button.disabled = true;
    post(panel, panel.dataset.optionsUrl, {}).then(function (json) {
      return register ?
        navigator.credentials.create({ publicKey: creationOptions(json) }) :
        navigator.credentials.get({ publicKey: requestOptions(json) });
    }).then(function (credential) {
      if (!credential) {
        throw new Error(panel.dataset.textCancelled);
      }
      var body = { credential: credentialJson(credential) };
      if (register) {
        var nameInput = panel.querySelector("input[name=passkey_name]");
        body.name = nameInput ? nameInput.value : "";
      } else {
        body.next = panel.dataset.next || "";
      }
      return post(panel, panel.dataset.finishUrl, body);
    }).then(function (data) {
      window.location.assign(data.redirect);
    }).catch(function (error) {
      // The browser's own errors (cancelled, timed out, not allowed) are not for citizens.
      alertBox.textContent = error && error.fromServer ? error.message :
        (error && error.name === "NotAllowedError" ? panel.dataset.textCancelled :
          (error && error.name === "InvalidStateError" ? panel.dataset.textDuplicate :
            panel.dataset.textFailed));
      alertBox.hidden = false;
      button.disabled = false;
      button.focus();
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-passkey-reveal]"),
    function (element) {
      element.hidden = false;
    });
  Array.prototype.forEach.call(panels, function (panel) {
    var button = panel.querySelector("[data-passkey-start]");
    if (!button) {
      return;
    }
    panel.hidden = false;
    button.addEventListener("click", function (event) {
      event.preventDefault();
      run(panel, button);
    });
  });
})();
