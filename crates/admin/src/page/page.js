// The API-keys page: talks to the admin API beside it with the admin key
// the administrator pasted, kept in this tab's session storage only.
"use strict";

const base = document.querySelector('meta[name="api-base"]').content;
const storageKey = "api-key-auth.admin-key";
const pageSize = 20;
let cursors = [];   // the cursor of each page shown so far ("" for the first)

const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const headers = { Authorization: "Api-Key " + sessionStorage.getItem(storageKey) };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(base + path, init);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (response.status === 401) {
    signOut("The admin key was refused: sign in again.");
    throw new Error("The admin key was refused.");
  }
  if (response.status === 403) {
    throw new Error("This key lacks the admin scope.");
  }
  if (!response.ok) {
    throw new Error((data && (data.detail || data.message)) || response.status + " " + response.statusText);
  }
  return data;
}

function showWorkspace(signedIn) {
  $("sign-in-section").hidden = signedIn;
  $("workspace").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
}

function signOut(reason) {
  sessionStorage.removeItem(storageKey);
  hideNewKey();
  showWorkspace(false);
  $("sign-in-error").textContent = reason || "";
}

async function signIn(event) {
  event.preventDefault();
  const key = $("admin-key").value.trim();
  $("sign-in-error").textContent = "";
  sessionStorage.setItem(storageKey, key);
  try {
    await api("GET", "keys?limit=1");
  } catch (error) {
    sessionStorage.removeItem(storageKey);
    $("sign-in-error").textContent = error.message;
    return;
  }
  $("admin-key").value = "";
  showWorkspace(true);
  await loadPage("");
  $("new-name").focus();
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function date(text) {
  return text ? text.replace("T", " ").replace("Z", " UTC") : "never";
}

// A span of seconds in its largest unit: "59 days", "3 hours", "20 minutes".
function span(seconds) {
  const units = [[86400, "day"], [3600, "hour"], [60, "minute"], [1, "second"]];
  for (const [size, name] of units) {
    const n = Math.floor(seconds / size);
    if (n >= 1) return n + " " + name + (n === 1 ? "" : "s");
  }
  return "0 seconds";
}

// The expiry with the time left: "2027-01-31 00:00:00 UTC (in 59 days)".
function expiry(key) {
  if (!key.expires) return "never";
  const left = key.expires_in_secs;
  const when = left > 0 ? "in " + span(left) : span(-left) + " ago";
  return date(key.expires) + " (" + when + ")";
}

// A rate limit as a person reads it: "100 a second, 20 at once".
function rate(limit) {
  if (!limit) return "none";
  const units = { 1000: "second", 60000: "minute", 3600000: "hour", 86400000: "day" };
  const per = units[limit.period_ms] ||
    (limit.period_ms % 1000 === 0 ? limit.period_ms / 1000 + " seconds" : limit.period_ms + " ms");
  return limit.requests + " a " + per + ", " + limit.burst + " at once";
}

// Text from the store as it is shown: control and format characters (which
// drive a terminal, or reorder and hide what is shown) and backslashes written
// as escapes, as the api-key command shows them. Rows written before the rules
// for new keys, or by another tool, may hold them.
function shown(text) {
  return String(text).replace(/[\\\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu,
    (c) => (c === "\\" ? "\\\\" : "\\u{" + c.codePointAt(0).toString(16) + "}"));
}

function statusText(key) {
  return key.sunset ? key.status + ", replaced" : key.status;
}

async function loadPage(cursor) {
  $("list-error").textContent = "";
  const status = $("status").value;
  const owner = $("owner-filter").value.trim();
  showOwnerActions("");
  let path = "keys?limit=" + pageSize + "&status=" + encodeURIComponent(status);
  if (owner) path += "&owner=" + encodeURIComponent(owner);
  if (cursor) path += "&cursor=" + encodeURIComponent(cursor);
  let page;
  try {
    page = await api("GET", path);
  } catch (error) {
    $("list-error").textContent = error.message;
    return;
  }
  if (!cursor) cursors = [""];
  showOwnerActions(owner);
  $("owner-done").textContent = "";
  const body = $("keys");
  body.replaceChildren();
  for (const key of page.keys) {
    const row = document.createElement("tr");
    cell(row, shown(key.name));
    cell(row, key.prefix, "prefix");
    cell(row, date(key.created));
    cell(row, expiry(key));
    cell(row, key.last_used ? date(key.last_used) : "never");
    cell(row, statusText(key), "status-" + key.status);
    cell(row, key.scopes.map(shown).join(" "));
    cell(row, rate(key.rate_limit));
    cell(row, key.allowed_from ? key.allowed_from.join(", ") : "anywhere");
    cell(row, key.credits ? String(key.credits.remaining) : "unlimited");
    const actions = cell(row, "");
    // A key already replaced is on its way out: rotate its successor instead.
    if (key.status === "active" && !key.sunset) {
      actions.appendChild(action("Rotate", key, () => openRotate(key)));
    }
    if (key.status === "active") {
      actions.appendChild(action("Suspend", key, () => suspension(key, "suspend")));
    }
    if (key.status === "suspended") {
      actions.appendChild(action("Resume", key, () => suspension(key, "resume")));
    }
    if (key.status !== "revoked") {
      actions.appendChild(action("Revoke", key, () => revoke(key)));
    }
    body.appendChild(row);
  }
  if (page.keys.length === 0) {
    const row = document.createElement("tr");
    cell(row, "No keys here.").colSpan = 9;
    body.appendChild(row);
  }
  $("next-page").hidden = !page.next;
  $("next-page").dataset.cursor = page.next || "";
  $("first-page").hidden = !cursor;
}

// A row's button: its text, and the key's name for screen readers.
function action(text, key, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = text;
  const named = document.createElement("span");
  named.className = "visually-hidden";
  named.textContent = " " + shown(key.name);
  button.appendChild(named);
  button.addEventListener("click", onClick);
  return button;
}

let rotating = null;   // the key the rotate form is open for

function openRotate(key) {
  rotating = key;
  $("rotate-name").textContent = shown(key.name) + " (" + key.prefix + ")";
  $("rotate-error").textContent = "";
  $("rotate-section").hidden = false;
  $("rotate-grace").focus();
}

function closeRotate() {
  rotating = null;
  $("rotate-section").hidden = true;
}

async function rotate(event) {
  event.preventDefault();
  if (!rotating) return;
  const key = rotating;
  const grace = Number($("rotate-grace").value);
  let rotated;
  try {
    rotated = await api("POST", "keys/" + encodeURIComponent(key.id) + "/rotate", { grace_secs: grace });
  } catch (error) {
    $("rotate-error").textContent = error.message;
    return;
  }
  closeRotate();
  showNewKey(shown(rotated.record.name), rotated.key,
    rotated.retired.status === "revoked"
      ? "The old key (" + key.prefix + ") has stopped working."
      : "The old key (" + key.prefix + ") keeps working until " + date(rotated.retired.expires) + ".");
  await loadPage(cursors[cursors.length - 1] || "");
}

async function revoke(key) {
  if (!confirm('Revoke the key "' + shown(key.name) + '" (' + key.prefix + ')? It stops working at once.')) {
    return;
  }
  try {
    await api("POST", "keys/" + encodeURIComponent(key.id) + "/revoke");
  } catch (error) {
    $("list-error").textContent = error.message;
    return;
  }
  await loadPage(cursors[cursors.length - 1] || "");
}

// What the owner actions act on: the owner the listing was last filtered by.
let listedOwner = "";

function showOwnerActions(owner) {
  listedOwner = owner;
  $("owner-name").textContent = shown(owner);
  $("owner-actions").hidden = !owner;
}

// Every key of the listed owner at once; revoking asks first, as for one key.
async function ownerAction(what) {
  const owner = listedOwner;
  if (!owner) return;
  if (what === "revoke" &&
      !confirm('Revoke every key of "' + shown(owner) + '"? They stop working at once.')) {
    return;
  }
  let changed;
  try {
    changed = await api("POST", "owners/" + encodeURIComponent(owner) + "/" + what);
  } catch (error) {
    $("list-error").textContent = error.message;
    return;
  }
  const done = { suspend: "suspended", resume: "resumed", revoke: "revoked" }[what];
  await loadPage("");
  $("list-error").textContent = "";
  $("owner-done").textContent = changed.keys.length + " key(s) of " + shown(owner) + " " + done + ".";
}

// Suspending stops a key until it is resumed; either is undone by the other,
// so neither asks for confirmation.
async function suspension(key, what) {
  try {
    await api("POST", "keys/" + encodeURIComponent(key.id) + "/" + what);
  } catch (error) {
    $("list-error").textContent = error.message;
    return;
  }
  await loadPage(cursors[cursors.length - 1] || "");
}

function hideNewKey() {
  $("new-key").hidden = true;
  $("new-key-value").textContent = "";
  $("new-key-name").textContent = "";
  $("new-key-note").textContent = "";
}

function showNewKey(name, key, note) {
  $("new-key-name").textContent = name;
  $("new-key-value").textContent = key;
  $("new-key-note").textContent = note || "";
  $("copy-key").textContent = "Copy";
  $("new-key").hidden = false;
  $("copy-key").focus();
}

async function generate(event) {
  event.preventDefault();
  $("generate-error").textContent = "";
  const request = { name: $("new-name").value.trim() };
  const scopes = $("new-scopes").value.split(/\s+/).filter((s) => s);
  if (scopes.length) request.scopes = scopes;
  const owner = $("new-owner").value.trim();
  if (owner) request.owner = owner;
  if ($("new-expires").value) request.expires_at = $("new-expires").value + "T23:59:59Z";
  if ($("new-rate").value) {
    request.rate_limit = {
      requests: Number($("new-rate").value),
      period_secs: Number($("new-rate-per").value),
    };
    if ($("new-burst").value) request.rate_limit.burst = Number($("new-burst").value);
  }
  if ($("new-credits").value !== "") {
    request.credits = { remaining: Number($("new-credits").value) };
    if ($("new-refill").value) {
      request.credits.refill_amount = Number($("new-credits").value);
      request.credits.refill_every_secs = Number($("new-refill").value);
    }
  }
  const networks = $("new-allowed-from").value.split(",").map((n) => n.trim()).filter((n) => n);
  if (networks.length) request.allowed_from = networks;
  let created;
  try {
    created = await api("POST", "keys", request);
  } catch (error) {
    $("generate-error").textContent = error.message;
    return;
  }
  $("generate").reset();
  showNewKey(shown(created.record.name), created.key, "");
  await loadPage("");
}

async function copyKey() {
  try {
    await navigator.clipboard.writeText($("new-key-value").textContent);
    $("copy-key").textContent = "Copied";
  } catch (_) {
    $("generate-error").textContent = "Copying was refused: select the key and copy it by hand.";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  // The buttons are disabled in the page so that nothing submits before
  // this script handles it.
  for (const button of document.querySelectorAll("button[type=submit]")) {
    button.disabled = false;
  }
  $("sign-in").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => signOut(""));
  $("generate").addEventListener("submit", generate);
  $("rotate").addEventListener("submit", rotate);
  $("rotate-cancel").addEventListener("click", () => { closeRotate(); $("status").focus(); });
  $("copy-key").addEventListener("click", copyKey);
  $("dismiss-key").addEventListener("click", () => { hideNewKey(); $("copy-key").textContent = "Copy"; $("new-name").focus(); });
  $("status").addEventListener("change", () => loadPage(""));
  $("filter").addEventListener("submit", (event) => { event.preventDefault(); loadPage(""); });
  $("owner-suspend").addEventListener("click", () => ownerAction("suspend"));
  $("owner-resume").addEventListener("click", () => ownerAction("resume"));
  $("owner-revoke").addEventListener("click", () => ownerAction("revoke"));
  $("next-page").addEventListener("click", () => {
    const next = $("next-page").dataset.cursor;
    cursors.push(next);
    loadPage(next);
  });
  $("first-page").addEventListener("click", () => loadPage(""));
  if (sessionStorage.getItem(storageKey)) {
    showWorkspace(true);
    loadPage("");
  } else {
    showWorkspace(false);
  }
});
