// Helpers shared by the sign-in page and My security info: talking JSON to
// Sesame, turning go-webauthn's options into what the browser takes, and
// turning failures into sentences people understand.

// ServerError is a refusal from Sesame: its message is meant for the user.
export class ServerError extends Error {
  constructor(message, code, status) {
    super(message);
    this.name = "ServerError";
    this.code = code;
    this.status = status;
  }
}

// postJSON sends body as JSON and returns the decoded answer, or throws a
// ServerError carrying Sesame's "error" text.
export async function postJSON(url, body) {
  const res = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "Accept": "application/json" },
    body: JSON.stringify(body),
  });
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const message = (data && data.error) || "Something went wrong on our side. Please try again.";
    throw new ServerError(message, (data && data.code) || "http_" + res.status, res.status);
  }
  return data || {};
}

export function webauthnAvailable() {
  return typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
}

function fromB64url(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

function toB64url(buf) {
  const bytes = new Uint8Array(buf);
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function descriptors(list) {
  return (list || []).map((c) => ({ ...c, id: fromB64url(c.id) }));
}

// requestOptions turns Sesame's {"publicKey": {...}} sign-in options into
// PublicKeyCredentialRequestOptions.
export function requestOptions(options) {
  const pk = options.publicKey;
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
    return PublicKeyCredential.parseRequestOptionsFromJSON(pk);
  }
  const o = { ...pk, challenge: fromB64url(pk.challenge) };
  if (pk.allowCredentials) o.allowCredentials = descriptors(pk.allowCredentials);
  return o;
}

// creationOptions does the same for registration options.
export function creationOptions(options) {
  const pk = options.publicKey;
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
    return PublicKeyCredential.parseCreationOptionsFromJSON(pk);
  }
  const o = { ...pk, challenge: fromB64url(pk.challenge), user: { ...pk.user, id: fromB64url(pk.user.id) } };
  if (pk.excludeCredentials) o.excludeCredentials = descriptors(pk.excludeCredentials);
  return o;
}

// credentialJSON is credential.toJSON(), written out for browsers that
// lack it.
export function credentialJSON(cred) {
  if (typeof cred.toJSON === "function") return cred.toJSON();
  const r = cred.response;
  const out = {
    id: cred.id,
    rawId: toB64url(cred.rawId),
    type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    response: { clientDataJSON: toB64url(r.clientDataJSON) },
  };
  if (r.attestationObject) {
    out.response.attestationObject = toB64url(r.attestationObject);
    if (r.getTransports) out.response.transports = r.getTransports();
  } else {
    out.response.authenticatorData = toB64url(r.authenticatorData);
    out.response.signature = toB64url(r.signature);
    if (r.userHandle) out.response.userHandle = toB64url(r.userHandle);
  }
  return out;
}

// isAbort says whether a failure is just a request we aborted ourselves.
export function isAbort(err) {
  return !!err && (err.name === "AbortError" || err === "superseded");
}

// describe turns any failure into a sentence for the page. what is
// "signin" or "register": the advice differs.
export function describe(err, what) {
  if (err instanceof ServerError) return err.message;
  const name = err && err.name;
  switch (name) {
    case "NotAllowedError":
      return what === "register"
        ? "Adding the passkey was cancelled or timed out. Try again when you are ready."
        : "The passkey request was cancelled or timed out. Try again, or use a temporary access pass.";
    case "InvalidStateError":
      return what === "register"
        ? "This device or password manager already holds a passkey for your account. Add one on another device or security key instead."
        : "This passkey cannot be used here. Try another one.";
    case "SecurityError":
      return "Passkeys cannot be used on this web address. Open Sesame at the address your administrator gave you.";
    case "NotSupportedError":
      return "This browser or device cannot make the kind of passkey Sesame needs. Try another browser or a security key.";
    case "TypeError":
      return "Sesame could not be reached, or the browser did not understand its answer. Check your connection and try again.";
  }
  return "Something went wrong. Please try again.";
}

// Alert shows and clears a message in an element with role="alert".
export class Alert {
  constructor(el) {
    this.el = el;
  }
  show(message) {
    if (!this.el) return;
    this.el.textContent = message;
    this.el.hidden = false;
  }
  clear() {
    if (!this.el) return;
    this.el.textContent = "";
    this.el.hidden = true;
  }
}

// Prefetch keeps one ceremony's options fetched ahead of the click, so the
// WebAuthn call can start inside the click handler itself, with no awaited
// fetch in between (Safari refuses ceremonies started after one).
export class Prefetch {
  constructor(url) {
    this.url = url;
    this.entry = null;
  }
  // start fetches options for key (a username, or "" for none) unless they
  // are already on their way.
  start(key, body) {
    if (this.entry && this.entry.key === key && this.fresh(this.entry)) return this.entry;
    const entry = { key, at: Date.now(), result: null, promise: null };
    entry.promise = postJSON(this.url, body).then(
      (c) => {
        entry.result = c;
        return c;
      },
      (err) => {
        if (this.entry === entry) this.entry = null;
        throw err;
      },
    );
    entry.promise.catch(() => {}); // failures surface when the options are taken
    this.entry = entry;
    return entry;
  }
  fresh(entry) {
    let maxAge = 4 * 60 * 1000; // ceremonies expire after a few minutes
    const t = entry.result && entry.result.options && entry.result.options.publicKey && entry.result.options.publicKey.timeout;
    if (t && t * 0.8 < maxAge) maxAge = t * 0.8;
    return Date.now() - entry.at < maxAge;
  }
  // takeReady returns fetched, unused, fresh options for key right now, or
  // null. Options are single-use: taking them clears them.
  takeReady(key) {
    const e = this.entry;
    if (!e || e.key !== key || !e.result || !this.fresh(e)) return null;
    this.entry = null;
    return e.result;
  }
  // take waits for options for key, fetching them if needed.
  async take(key, body) {
    const e = this.start(key, body);
    const c = await e.promise;
    if (this.entry === e) this.entry = null;
    return c;
  }
}
