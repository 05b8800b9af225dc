// Passkeys on Latchkey's hosted pages. A form with data-passkey="get" (sign in: data-challenge, data-rp-id, and data-allow,
// the passkeys asked for, space-separated; user verification is always required) or "create" (add a passkey: data-options,
// the server's JSON, bytes in base64url) carries the WebAuthn options and hidden fields for the answer: the script
// asks the browser for the passkey, puts its answer (JSON) in the "credential" field and posts the form. Nothing is fetched:
// the page's form is the only way back. A "get" form with data-conditional also offers passkeys in the username field
// (conditional mediation: autocomplete="username webauthn").
(() => {
  "use strict";
  const bytes = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)).buffer;
  const text = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const descriptors = (list) => (list || []).map((d) => ({ ...d, id: bytes(d.id) }));

  function creationOptions(o) {
    return { ...o, challenge: bytes(o.challenge), user: { ...o.user, id: bytes(o.user.id) }, excludeCredentials: descriptors(o.excludeCredentials) };
  }

  function requestOptions(form) {
    const allow = (form.dataset.allow || "").split(" ").filter((id) => id).map((id) => ({ type: "public-key", id }));
    return { challenge: bytes(form.dataset.challenge), rpId: form.dataset.rpId, timeout: 300000, userVerification: "required", allowCredentials: descriptors(allow) };
  }

  function answer(credential) {
    const r = credential.response;
    const json = { id: credential.id, rawId: text(credential.rawId), type: credential.type, clientExtensionResults: credential.getClientExtensionResults() };
    if (r.attestationObject) {
      json.response = { clientDataJSON: text(r.clientDataJSON), attestationObject: text(r.attestationObject), transports: r.getTransports ? r.getTransports() : [] };
    } else {
      json.response = { clientDataJSON: text(r.clientDataJSON), authenticatorData: text(r.authenticatorData), signature: text(r.signature) };
      if (r.userHandle) json.response.userHandle = text(r.userHandle);
    }
    return JSON.stringify(json);
  }

  function say(form, message) {
    const status = form.querySelector("[data-passkey-status]");
    if (status) status.textContent = message;
  }

  let conditional = null;

  async function run(form, mediation) {
    const create = form.dataset.passkey === "create";
    if (mediation !== "conditional" && conditional) conditional.abort();
    const abort = new AbortController();
    if (mediation === "conditional") conditional = abort;
    try {
      const credential = create
        ? await navigator.credentials.create({ publicKey: creationOptions(JSON.parse(form.dataset.options)) })
        : await navigator.credentials.get({ publicKey: requestOptions(form), mediation, signal: abort.signal });
      if (!credential) return;
      form.elements.credential.value = answer(credential);
      form.submit();
    } catch (e) {
      if (mediation === "conditional" && e.name === "AbortError") return;
      say(form, e.name === "NotAllowedError"
        ? "No passkey was used. Try again, or sign in another way."
        : e.name === "InvalidStateError" ? "This passkey is added already." : "Your browser could not use a passkey here.");
    }
  }

  for (const form of document.querySelectorAll("form[data-passkey]")) {
    if (!window.PublicKeyCredential) {
      say(form, "This browser cannot use passkeys.");
      continue;
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(form, undefined);
    });
    if (form.dataset.conditional !== undefined && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then((available) => available && run(form, "conditional"));
    }
  }
})();
