// My security info (and the registration prompt after sign-in): adding a
// passkey. Renaming and removing are plain forms and need no script. The
// form may name where to go once the passkey is added (data-next) and
// which page it is on (data-source, for the audit log).
//
// Registration options are fetched when the page loads, so the click can
// call navigator.credentials.create straight away (Safari refuses a
// ceremony started after an awaited fetch); a fetch on click is the
// fallback when they are missing or stale.

import { Alert, Prefetch, creationOptions, credentialJSON, describe, postJSON, webauthnAvailable } from "./webauthn.js";

const form = document.getElementById("add-passkey-form");
const button = document.getElementById("add-passkey");
const nameInput = document.getElementById("new-passkey-name");
const alert = new Alert(document.getElementById("error"));

const prefetch = new Prefetch("/my/passkeys/register/begin");
let busy = false;

function setBusy(on) {
  busy = on;
  button.disabled = on;
  form.setAttribute("aria-busy", on ? "true" : "false");
}

async function register(ready) {
  try {
    let c = ready;
    let cred;
    if (c) {
      cred = await navigator.credentials.create({ publicKey: creationOptions(c.options) });
    } else {
      c = await prefetch.take("", {});
      cred = await navigator.credentials.create({ publicKey: creationOptions(c.options) });
    }
    if (!cred) throw new DOMException("no credential", "NotAllowedError");
    await postJSON("/my/passkeys/register/finish", {
      ceremony: c.ceremony,
      credential: credentialJSON(cred),
      name: nameInput ? nameInput.value.trim() : "",
      source: form.dataset.source || "",
    });
    window.location.assign(form.dataset.next || "/my?notice=added");
  } catch (err) {
    if (err && err.status === 401) {
      alert.show("Your session has ended. Sign in again to add a passkey.");
    } else {
      alert.show(describe(err, "register"));
    }
    setBusy(false);
    prefetch.start("", {});
  }
}

if (form) {
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (busy) return;
    alert.clear();
    if (!webauthnAvailable()) {
      alert.show("This browser cannot create passkeys. Try another browser or device.");
      return;
    }
    const ready = prefetch.takeReady("");
    setBusy(true);
    register(ready);
  });
  if (webauthnAvailable()) prefetch.start("", {});
}
