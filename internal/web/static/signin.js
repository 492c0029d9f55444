// Sign-in page: passkeys from autofill (conditional mediation) and from the
// "Sign in with a passkey" button.
//
// Two rules from the field shape this file:
//   - a pending autofill request is aborted before any other ceremony
//     starts (Safari and iOS break when it is left pending);
//   - the button's ceremony starts inside the click with options fetched
//     beforehand, because Safari refuses a ceremony started after an
//     awaited fetch. A fetch on click remains as the fallback.

import { Alert, Prefetch, credentialJSON, describe, isAbort, postJSON, requestOptions, webauthnAvailable } from "./webauthn.js";

const form = document.getElementById("signin-form");
const username = document.getElementById("username");
const button = document.getElementById("passkey-button");
const tapLink = document.getElementById("tap-link");
const alert = new Alert(document.getElementById("error"));
const returnTo = form.dataset.returnTo || "/my";

const prefetch = new Prefetch("/signin/passkey/begin");
let autofill = null; // AbortController of the pending conditional request
let busy = false;

function beginBody(name) {
  return name ? { username: name } : {};
}

function currentName() {
  return username.value.trim();
}

function updateTapLink() {
  const params = new URLSearchParams();
  const name = currentName();
  if (name) params.set("username", name);
  params.set("return_to", returnTo);
  tapLink.href = "/signin/tap?" + params.toString();
}

function abortAutofill() {
  if (autofill) {
    autofill.abort("superseded");
    autofill = null;
  }
}

async function finish(ceremony, cred) {
  const res = await postJSON("/signin/passkey/finish", {
    ceremony,
    credential: credentialJSON(cred),
    return_to: returnTo,
  });
  window.location.assign(res.redirect || "/my");
}

// startAutofill offers the user's passkeys in the username field's
// autofill, when the browser can.
async function startAutofill() {
  if (!webauthnAvailable() || typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") return;
  if (new URLSearchParams(window.location.search).get("autofill") === "off") return;
  let available = false;
  try {
    available = await PublicKeyCredential.isConditionalMediationAvailable();
  } catch {
    available = false;
  }
  if (!available || busy) return;
  abortAutofill();
  const controller = new AbortController();
  autofill = controller;
  let c;
  try {
    c = await postJSON("/signin/passkey/begin", {});
  } catch (err) {
    if (autofill === controller) autofill = null;
    return; // the button still works, and reports its own errors
  }
  if (controller.signal.aborted) return;
  let cred;
  try {
    cred = await navigator.credentials.get({
      publicKey: requestOptions(c.options),
      mediation: "conditional",
      signal: controller.signal,
    });
  } catch (err) {
    if (autofill === controller) autofill = null;
    // Aborted by us, or dismissed: nothing to say.
    if (!isAbort(err) && !controller.signal.aborted && err.name !== "NotAllowedError") alert.show(describe(err, "signin"));
    return;
  }
  if (autofill === controller) autofill = null;
  if (!cred || busy) return;
  busy = true;
  setBusy(true);
  alert.clear();
  try {
    await finish(c.ceremony, cred);
  } catch (err) {
    alert.show(describe(err, "signin"));
    busy = false;
    setBusy(false);
    refresh();
  }
}

function setBusy(on) {
  button.disabled = on;
  form.setAttribute("aria-busy", on ? "true" : "false");
}

// refresh gets the page ready for another try after a ceremony ended.
function refresh() {
  prefetch.start(currentName(), beginBody(currentName()));
  startAutofill();
}

// modal runs the button's ceremony. With ready options it calls
// navigator.credentials.get before its first await, inside the click.
async function modal(ready, name) {
  let cred, c;
  try {
    if (ready) {
      c = ready;
      cred = await navigator.credentials.get({ publicKey: requestOptions(c.options) });
    } else {
      c = await prefetch.take(name, beginBody(name));
      cred = await navigator.credentials.get({ publicKey: requestOptions(c.options) });
    }
    if (!cred) throw new DOMException("no credential", "NotAllowedError");
    await finish(c.ceremony, cred);
  } catch (err) {
    alert.show(describe(err, "signin"));
    busy = false;
    setBusy(false);
    refresh();
  }
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (busy) return;
  alert.clear();
  if (!webauthnAvailable()) {
    alert.show("This browser cannot use passkeys. Use a temporary access pass, or another browser.");
    return;
  }
  const name = currentName();
  const ready = prefetch.takeReady(name);
  // Abort autofill first: two ceremonies cannot be pending at once.
  abortAutofill();
  busy = true;
  setBusy(true);
  modal(ready, name);
});

// The other ways in (pass, password) are plain links. A pending autofill
// request is aborted before following one, and the link is then followed
// by the script: a pending conditional request (and the autofill popup it
// keeps open on the username field) may swallow the navigation of a real
// click or Enter. Clicks meant for a new tab or window are left alone.
function followLink(ev) {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const link = ev.currentTarget;
  if (link.id === "tap-link") updateTapLink();
  abortAutofill();
  ev.preventDefault();
  window.location.assign(link.href);
}

for (const link of document.querySelectorAll("a#tap-link, a#password-link")) {
  link.addEventListener("click", followLink);
}

username.addEventListener("input", updateTapLink);
// When the user has typed a username, fetch username-first options before
// they click, so the click can start the ceremony straight away.
username.addEventListener("change", () => {
  if (!busy) prefetch.start(currentName(), beginBody(currentName()));
});

updateTapLink();
if (webauthnAvailable()) {
  prefetch.start(currentName(), beginBody(currentName()));
  startAutofill();
}
