// "Verify in my browser": the whole chain of trust behind one entry, checked on the
// reader's own computer with WebCrypto (SHA-256, Ed25519):
//
//   1. the entry's leaf hash, and its inclusion proof up to the checkpoint's root
//      (RFC 9162 §2.1.3.2);
//   2. the log's Ed25519 signature on the checkpoint (C2SP signed-note);
//   3. the witnesses' Ed25519 cosignatures (C2SP tlog-cosignature) and the quorum of a
//      trust policy (C2SP tlog-policy);
//   4. on a reveal's page, that the revealed document is the one that was sealed
//      (FORMATS.md "Blobs and commitments").
//
// The keys come from a policy the reader pinned (kept in localStorage) or, failing
// that, from this server; the verdict says which. Keys in the page come from the same
// response as the checkpoint, so they only show that the server agrees with itself.
// No dependencies, no build step. The page's data is in <script id="proof-data">.

const te = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });
const PIN_KEY = "frontier-ledger:pinned-policy:v1";
const MAX_POLICY_BYTES = 64 * 1024; // as verifier/core/trust_policy.py
const MAX_NOTE_BYTES = 1024 * 1024;
const ALG_ED25519 = 0x01; // signed-note key type of a log key
const ALG_COSIGNATURE = 0x04; // tlog-cosignature/v1 (Ed25519) witness key
const ALG_MLDSA44 = 0x06; // ML-DSA-44: not checked in the browser
const KEY_SIZES = { [ALG_ED25519]: 32, [ALG_COSIGNATURE]: 32, [ALG_MLDSA44]: 1312 };
const COMMITMENT_PREFIX = te.encode("frontier-ledger/commitment/v1\n");
const DOCUMENT_FIELDS = ["plan", "public", "secret", "report", "evidence"];
const PINNED = "pinned by you";
const SERVED = "as served by this server";

// -- bytes ------------------------------------------------------------------------

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function toB64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

// Strict: the standard alphabet with padding, and it must re-encode to the same text.
function fromB64(s, what) {
  if (typeof s !== "string" || !B64.test(s)) throw new Error(`${what} is not base64`);
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  if (toB64(out) !== s) throw new Error(`${what} is not canonical base64`);
  return out;
}

const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const clip = (s, n = 40) => (s.length > n ? s.slice(0, n - 1) + "…" : s);

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

const leafHash = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

async function ed25519Verify(publicKey, signature, message) {
  let key;
  try {
    key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  } catch (e) {
    throw new Error("this browser cannot check Ed25519 signatures (WebCrypto); use frontier-verify instead");
  }
  return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
}

// -- Merkle proofs (RFC 9162 §2.1.3.2) ---------------------------------------------

// Arithmetic instead of bit operators: indices may exceed 2^31.
async function rootFromInclusion(index, size, hash, proof) {
  if (!(index < size)) throw new Error(`index ${index} is not below the tree size ${size}`);
  let fn = index, sn = size - 1, r = hash;
  for (const p of proof) {
    if (sn === 0) throw new Error("the inclusion proof is longer than the tree is deep");
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("the inclusion proof is too short");
  return r;
}

// -- keys and trust policies (C2SP signed-note, tlog-policy) -------------------------

// vkey = <name>+<8 hex key ID>+<base64(type || key)>; the base64 may hold "+": split
// at the first two only. Key ID = SHA-256(name || 0x0A || type || key)[:4].
function parseVkey(text, where) {
  const i = text.indexOf("+"), j = text.indexOf("+", i + 1);
  if (i <= 0 || j < 0) throw new Error(`${where}: "${clip(text)}" is not a key (name+hash+key)`);
  const name = text.slice(0, i), id = text.slice(i + 1, j);
  if (/[\s\u0000-\u001f]/.test(name)) throw new Error(`${where}: a key name has no spaces`);
  if (!/^[0-9a-f]{8}$/.test(id)) throw new Error(`${where}: "${clip(id)}" is not an 8-digit hex key hash`);
  const raw = fromB64(text.slice(j + 1), `${where}: the key of ${clip(name)}`);
  const type = raw[0], key = raw.slice(1);
  if (!(type in KEY_SIZES)) throw new Error(`${where}: key type 0x${hex([type])} is not Ed25519, a cosignature key or ML-DSA-44`);
  if (key.length !== KEY_SIZES[type]) throw new Error(`${where}: the key of ${clip(name)} has the wrong length`);
  return { name, id, type, key, text, where };
}

async function checkKeyId(k) {
  const id = (await sha256(concat(te.encode(k.name), Uint8Array.of(0x0a, k.type), k.key))).slice(0, 4);
  if (hex(id) !== k.id) throw new Error(`${k.where}: the key hash ${k.id} does not match the name ${clip(k.name)} and its key`);
}

const shortKey = (k) => `${k.name}+${k.id}`;

// A C2SP tlog-policy, strictly: log, witness, group and quorum lines; blank lines and
// "#" comments; every name defined once, before use; exactly one quorum line.
function parsePolicy(text) {
  const policy = { logs: [], witnesses: new Map(), groups: new Map(), quorum: undefined };
  const keys = new Set();
  const newName = (name, where) => {
    if (policy.witnesses.has(name) || policy.groups.has(name)) throw new Error(`${where}: the name "${clip(name)}" is defined twice`);
  };
  const newKey = (k, where) => {
    const id = toB64(k.key);
    if (keys.has(id)) throw new Error(`${where}: this key is already listed`);
    keys.add(id);
  };
  text.split("\n").forEach((raw, n) => {
    const where = `policy line ${n + 1}`;
    const line = raw.replace(/\r$/, "").trim();
    if (!line || line.startsWith("#")) return;
    const [word, ...args] = line.split(/[ \t]+/);
    if (word === "log") {
      if (args.length < 1 || args.length > 2) throw new Error(`${where}: expected "log <vkey> [<url>]"`);
      const k = parseVkey(args[0], where);
      if (k.type !== ALG_ED25519 && k.type !== ALG_MLDSA44) throw new Error(`${where}: a log key is Ed25519 or ML-DSA-44, not a cosignature key`);
      newKey(k, where);
      policy.logs.push(k);
    } else if (word === "witness") {
      if (args.length < 2 || args.length > 3) throw new Error(`${where}: expected "witness <name> <vkey> [<url>]"`);
      newName(args[0], where);
      const k = parseVkey(args[1], where);
      if (k.type !== ALG_COSIGNATURE && k.type !== ALG_MLDSA44) throw new Error(`${where}: a witness key is a cosignature/v1 or ML-DSA-44 key`);
      newKey(k, where);
      policy.witnesses.set(args[0], { name: args[0], key: k });
    } else if (word === "group") {
      if (args.length < 3) throw new Error(`${where}: expected "group <name> all|any|<k> <member>..."`);
      const [name, kind, ...members] = args;
      newName(name, where);
      for (const m of members) {
        if (!policy.witnesses.has(m) && !policy.groups.has(m)) throw new Error(`${where}: the group member "${clip(m)}" is not defined above`);
      }
      if (new Set(members).size !== members.length) throw new Error(`${where}: a group member is listed twice`);
      let threshold;
      if (kind === "all") threshold = members.length;
      else if (kind === "any") threshold = 1;
      else if (/^[1-9][0-9]*$/.test(kind) && Number(kind) <= members.length) threshold = Number(kind);
      else throw new Error(`${where}: the threshold "${clip(kind)}" is not all, any or a number from 1 to ${members.length}`);
      policy.groups.set(name, { name, threshold, members });
    } else if (word === "quorum") {
      if (policy.quorum !== undefined || args.length !== 1) throw new Error(`${where}: expected one "quorum <name>|none" line`);
      if (args[0] !== "none" && !policy.witnesses.has(args[0]) && !policy.groups.has(args[0])) {
        throw new Error(`${where}: the quorum "${clip(args[0])}" is not defined`);
      }
      policy.quorum = args[0] === "none" ? null : args[0];
    } else {
      throw new Error(`${where}: unknown keyword "${clip(word, 20)}"`);
    }
  });
  if (!policy.logs.some((k) => k.type === ALG_ED25519)) throw new Error("the policy has no Ed25519 \"log\" line: the log's key is missing");
  if (policy.quorum === undefined) throw new Error("the policy has no \"quorum\" line (\"quorum none\" requires no witness)");
  return policy;
}

// A list of keys, one a line: the log's keys (Ed25519, or ML-DSA-44 beside it), and
// witnesses' cosignature keys, every one of which must then have cosigned.
function policyFromKeys(lines) {
  const policy = { logs: [], witnesses: new Map(), groups: new Map(), quorum: null };
  lines.forEach(({ text, n }) => {
    const where = `line ${n}`;
    const k = parseVkey(text, where);
    if (k.type === ALG_COSIGNATURE) {
      if (policy.witnesses.has(k.name)) throw new Error(`${where}: two witness keys named ${clip(k.name)}`);
      policy.witnesses.set(k.name, { name: k.name, key: k });
    } else {
      policy.logs.push(k);
    }
  });
  if (!policy.logs.some((k) => k.type === ALG_ED25519)) throw new Error("no Ed25519 key of the log among these keys");
  if (policy.witnesses.size > 0) {
    policy.groups.set("every witness you pinned", { name: "every witness you pinned", threshold: policy.witnesses.size, members: [...policy.witnesses.keys()] });
    policy.quorum = "every witness you pinned";
  }
  return policy;
}

// What a reader pastes: a tlog-policy, or bare vkeys (lines without spaces).
async function parseTrust(text) {
  if (typeof text !== "string" || te.encode(text).length > MAX_POLICY_BYTES) throw new Error("the policy is larger than 64 KiB");
  const lines = text.split("\n").map((t, i) => ({ text: t.replace(/\r$/, "").trim(), n: i + 1 }))
    .filter((l) => l.text && !l.text.startsWith("#"));
  if (lines.length === 0) throw new Error("there is nothing to pin: paste a policy or keys");
  const bare = lines.every((l) => !/[ \t]/.test(l.text));
  const policy = bare ? policyFromKeys(lines) : parsePolicy(text);
  for (const k of [...policy.logs, ...[...policy.witnesses.values()].map((w) => w.key)]) await checkKeyId(k);
  return policy;
}

function satisfied(policy, name, cosigned) {
  if (policy.witnesses.has(name)) return cosigned.has(name);
  const group = policy.groups.get(name);
  return group.members.filter((m) => satisfied(policy, m, cosigned)).length >= group.threshold;
}

const join = (words, last) => (words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} ${last} ${words[words.length - 1]}`);

function quorumWords(policy, name = policy.quorum) {
  if (name === null) return "none: no witness is required";
  if (policy.witnesses.has(name)) return name;
  const g = policy.groups.get(name);
  const members = g.members.map((m) => (policy.witnesses.has(m) ? m : `(${quorumWords(policy, m)})`));
  if (members.length === 1) return members[0];
  if (g.threshold === 1) return `any one of ${join(members, "or")}`;
  if (g.threshold === members.length) return `${members.length === 2 ? "both" : "all of"} ${join(members, "and")}`;
  return `${g.threshold} of ${join(members, "and")}`;
}

// -- the checkpoint (C2SP signed-note, tlog-checkpoint, tlog-cosignature) --------------

function parseNote(text) {
  if (te.encode(text).length > MAX_NOTE_BYTES) throw new Error("the checkpoint is too large");
  const split = text.lastIndexOf("\n\n");
  if (split < 0 || !text.endsWith("\n")) throw new Error("the checkpoint is not a signed note");
  const body = text.slice(0, split + 1);
  const signatures = text.slice(split + 2, -1).split("\n").map((line) => {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m) throw new Error(`the checkpoint has a malformed signature line "${clip(line)}"`);
    const raw = fromB64(m[2], "a signature of the checkpoint");
    if (raw.length < 5) throw new Error("a signature of the checkpoint is too short");
    return { name: m[1], id: hex(raw.slice(0, 4)), sig: raw.slice(4) };
  });
  const lines = body.split("\n");
  if (lines.length !== 4 || lines[3] !== "") throw new Error("the checkpoint is not origin, size and root");
  if (!/^(0|[1-9][0-9]{0,15})$/.test(lines[1])) throw new Error("the checkpoint's tree size is not a canonical number");
  const root = fromB64(lines[2], "the checkpoint's root");
  if (root.length !== 32) throw new Error("the checkpoint's root is not 32 bytes");
  return { body, signatures, origin: lines[0], size: Number(lines[1]), root };
}

async function checkLogSignature(note, policy) {
  const keys = policy.logs.filter((k) => k.type === ALG_ED25519);
  let signer = null;
  for (const k of keys) {
    for (const s of note.signatures) {
      if (s.name !== k.name || s.id !== k.id) continue;
      if (s.sig.length !== 64 || !(await ed25519Verify(k.key, s.sig, te.encode(note.body)))) {
        throw new Error(`the checkpoint's signature does not verify under the log key ${shortKey(k)}: this is not the checkpoint the log signed`);
      }
      signer = signer || k;
    }
  }
  if (signer === null) throw new Error(`the checkpoint carries no signature by the log key ${keys.map(shortKey).join(" or ")}`);
  if (signer.name !== note.origin) throw new Error(`the checkpoint is for the log ${clip(note.origin)}, but its key is named ${clip(signer.name)}`);
  return signer;
}

// Every cosignature by a witness the policy names must verify; returns name -> seconds.
async function checkCosignatures(note, policy) {
  const cosigned = new Map();
  for (const w of policy.witnesses.values()) {
    if (w.key.type !== ALG_COSIGNATURE) continue;
    for (const s of note.signatures) {
      if (s.name !== w.key.name || s.id !== w.key.id) continue;
      if (s.sig.length !== 72) throw new Error(`the cosignature of the witness ${w.name} is ${s.sig.length} bytes, not 72`);
      const time = new DataView(s.sig.buffer, s.sig.byteOffset, 8).getBigUint64(0);
      const message = te.encode(`cosignature/v1\ntime ${time}\n${note.body}`);
      if (!(await ed25519Verify(w.key.key, s.sig.slice(8), message))) {
        throw new Error(`the cosignature of the witness ${w.name} (${shortKey(w.key)}) does not verify: the witness did not cosign this checkpoint`);
      }
      cosigned.set(w.name, time);
    }
  }
  return cosigned;
}

const when = (seconds) => (seconds === 0n ? "(no time stated)" : new Date(Number(seconds) * 1000).toISOString().replace(".000Z", "Z"));

// -- a reveal: the revealed document against the commitment that sealed it ------------

function payloadOf(leaf, what) {
  try {
    const envelope = JSON.parse(utf8.decode(leaf)).envelope;
    return JSON.parse(utf8.decode(fromB64(envelope.payload, "the payload")));
  } catch (e) {
    throw new Error(`${what} does not hold a readable payload`);
  }
}

async function checkReveal(data, leaf, note) {
  const reveal = payloadOf(leaf, "this entry");
  const sealed = data.commitment;
  if (reveal.type !== "reveal" || reveal.commitment !== sealed.index) {
    throw new Error(`this entry does not reveal a document of entry ${sealed.index}`);
  }
  const hash = await leafHash(fromB64(sealed.leaf, "the sealing entry"));
  const root = await rootFromInclusion(sealed.index, note.size, hash, sealed.hashes.map((h) => fromB64(h, "a proof hash")));
  if (!equal(root, note.root)) {
    throw new Error(`entry ${sealed.index}, which sealed the document, is not the one the log holds (its inclusion proof does not lead to the checkpoint's root)`);
  }
  const committed = payloadOf(fromB64(sealed.leaf, "the sealing entry"), `entry ${sealed.index}`);
  const link = data.document_link && document.getElementById(data.document_link);
  if (!link) throw new Error("the revealed document is not available on this site, so it cannot be checked");
  const response = await fetch(link.getAttribute("href"));
  if (!response.ok) throw new Error(`the revealed document could not be fetched (HTTP ${response.status})`);
  const content = new Uint8Array(await response.arrayBuffer());
  if (hex(await sha256(content)) !== reveal.content_sha256) {
    throw new Error("the revealed document this site serves does not have the SHA-256 the reveal states");
  }
  const commitment = hex(await sha256(concat(COMMITMENT_PREFIX, fromB64(reveal.salt, "the salt"), content)));
  const field = DOCUMENT_FIELDS.find((f) => committed[f] && committed[f].sealed === true && committed[f].sha256 === commitment);
  if (!field) throw new Error(`the revealed document does not match the commitment in entry ${sealed.index}: it is not the document that was sealed`);
  return `the revealed document (${content.length} bytes, SHA-256 ${reveal.content_sha256.slice(0, 16)}…) with the reveal's salt gives the commitment in the ${field} field of entry ${sealed.index}, which is in the same checkpoint: it is the document that was sealed.`;
}

// -- the check, step by step -------------------------------------------------------

class Report {
  constructor() { this.items = []; }
  pass(text) { this.items.push(["pass", "✓", text]); }
  fail(text) { this.items.push(["fail", "✗", text]); }
  skip(text) { this.items.push(["skip", "–", text]); }
}

function pinned() {
  try {
    const stored = JSON.parse(localStorage.getItem(PIN_KEY) || "null");
    return stored && typeof stored.text === "string" ? stored : null;
  } catch (e) {
    return null;
  }
}

async function trustFor(data) {
  const mine = pinned();
  if (mine) {
    try {
      return { policy: await parseTrust(mine.text), source: PINNED, pinned: true };
    } catch (e) {
      throw new Error(`your pinned policy no longer parses (${e.message}): pin it again`);
    }
  }
  if (data.policy) {
    try {
      return { policy: await parseTrust(data.policy), source: SERVED, pinned: false };
    } catch (e) {
      throw new Error(`the witness policy this server publishes does not parse: ${e.message}`);
    }
  }
  const policy = policyFromKeys([{ text: data.vkey, n: 1 }]);
  await checkKeyId(policy.logs[0]);
  return { policy, source: SERVED, pinned: false };
}

async function verify(data, report) {
  const { policy, source, pinned: isPinned } = await trustFor(data);
  const whose = isPinned ? "your pinned policy" : "the policy this server publishes";
  const leaf = fromB64(data.leaf, "the entry");
  const hash = await leafHash(leaf);
  const note = parseNote(data.checkpoint);
  if (note.size !== data.tree_size) throw new Error(`the proof is for tree size ${data.tree_size}, the checkpoint is for ${note.size}`);
  const root = await rootFromInclusion(data.index, data.tree_size, hash, data.hashes.map((h) => fromB64(h, "a proof hash")));
  if (!equal(root, note.root)) {
    throw new Error("the inclusion proof does not lead to the checkpoint's root: this leaf is not the one the log holds at this index");
  }
  report.pass(`The entry: its bytes hash to ${toB64(hash)}, and its inclusion proof leads to the root of the checkpoint of ${note.size} entries.`);
  const signer = await checkLogSignature(note, policy);
  report.pass(`The log's signature: the checkpoint is signed by the log ${note.origin}, key ${shortKey(signer)} (${source}).`);
  const cosigned = await checkCosignatures(note, policy);
  for (const w of policy.witnesses.values()) {
    if (w.key.type !== ALG_COSIGNATURE) report.skip(`${w.name} (${shortKey(w.key)}, ${source}): an ML-DSA-44 key, which this browser cannot check; frontier-verify can.`);
    else if (cosigned.has(w.name)) report.pass(`${w.name} (${shortKey(w.key)}, ${source}) cosigned this checkpoint at ${when(cosigned.get(w.name))}.`);
    else report.fail(`${w.name} (${shortKey(w.key)}, ${source}): no cosignature by this key on this checkpoint.`);
  }
  const vouched = [...cosigned.keys()];
  const met = policy.quorum === null || satisfied(policy, policy.quorum, new Set(vouched));
  const quorum = `the quorum of ${whose} (${quorumWords(policy)})`;
  if (!met) {
    throw new Error(`${quorum} is not met: valid cosignatures by ${vouched.length ? join(vouched, "and") : "no witness it names"}`);
  }
  report.pass(`${quorum[0].toUpperCase()}${quorum.slice(1)} is met.`);
  if (data.commitment) report.pass(`The sealed document: ${await checkReveal(data, leaf, note)}`);
  const who = vouched.length ? `, cosigned by ${join(vouched, "and")}` : "";
  if (isPinned) return `Verified against your pinned policy: entry ${data.index} is in the log ${note.origin}${who}; the quorum of your policy is met.`;
  return `Verified against the keys this server sends, not keys you pinned: entry ${data.index} is in the log ${note.origin}${who}. This shows the server agrees with itself; pin keys from an independent source to check it against them.`;
}

// Keys, key hashes and digests are not words: shown as code, they may wrap anywhere.
const TOKEN = /[^\s(),;]*\+[0-9a-f]{8}|[A-Za-z0-9+/]{20,}={0,2}|[0-9a-f]{16,}…?/g;

function write(el, text) {
  el.replaceChildren();
  let at = 0;
  for (const m of text.matchAll(TOKEN)) {
    el.append(text.slice(at, m.index));
    const code = document.createElement("code");
    code.className = "hash";
    code.textContent = m[0];
    el.append(code);
    at = m.index + m[0].length;
  }
  el.append(text.slice(at));
}

function show(result, verdict, ok, report, source) {
  result.replaceChildren();
  result.className = ok ? "ok" : "bad";
  result.dataset.source = source || "";
  const p = document.createElement("p");
  p.className = "verdict";
  write(p, verdict);
  result.append(p);
  if (report.items.length) {
    const ul = document.createElement("ul");
    for (const [kind, mark, text] of report.items) {
      const li = document.createElement("li");
      li.className = kind;
      const span = document.createElement("span");
      span.className = "mark";
      span.textContent = mark + " ";
      const words = document.createElement("span");
      write(words, text);
      li.append(span, words);
      ul.append(li);
    }
    result.append(ul);
  }
}

// -- pinning -----------------------------------------------------------------------

function describe(policy) {
  const logs = policy.logs.map(shortKey).join(", ");
  const ws = [...policy.witnesses.values()].map((w) => `${w.name} (${shortKey(w.key)})`);
  return `log key ${logs}; witnesses: ${ws.length ? ws.join(", ") : "none"}; quorum: ${quorumWords(policy)}`;
}

async function showPin(status, text) {
  const mine = pinned();
  if (!mine) {
    status.textContent = "You have pinned no keys: checks use the keys this server sends, which shows only that the server agrees with itself.";
    return;
  }
  try {
    const policy = await parseTrust(mine.text);
    write(status, `Pinned by you on ${mine.at.slice(0, 10)}: ${describe(policy)}.`);
  } catch (e) {
    write(status, `Your pinned policy no longer parses: ${e.message}.`);
  }
  if (text && !text.value) text.value = mine.text;
}

function setUpPinning() {
  const panel = document.getElementById("pin-panel");
  if (!panel) return;
  const status = document.getElementById("pin-status");
  const text = document.getElementById("pin-text");
  const error = document.getElementById("pin-error");
  panel.hidden = false;
  showPin(status, text);
  document.getElementById("pin-save").addEventListener("click", async () => {
    error.textContent = "";
    try {
      await parseTrust(text.value);
    } catch (e) {
      write(error, `Not pinned: ${e.message}.`);
      return;
    }
    try {
      localStorage.setItem(PIN_KEY, JSON.stringify({ text: text.value, at: new Date().toISOString() }));
    } catch (e) {
      error.textContent = "Not pinned: this browser does not let the page remember it (storage is off).";
      return;
    }
    await showPin(status, text);
  });
  document.getElementById("pin-forget").addEventListener("click", async () => {
    error.textContent = "";
    try { localStorage.removeItem(PIN_KEY); } catch (e) { /* nothing was stored */ }
    text.value = "";
    await showPin(status, text);
  });
}

setUpPinning();

const button = document.getElementById("verify-button");
const result = document.getElementById("verify-result");
if (button && result) {
  button.addEventListener("click", async () => {
    result.className = "";
    result.replaceChildren("Checking…");
    const report = new Report();
    let source = "";
    try {
      const data = JSON.parse(document.getElementById(button.dataset.proof).textContent);
      source = pinned() ? "pinned" : "served";
      show(result, await verify(data, report), true, report, source);
    } catch (e) {
      report.fail(e.message);
      show(result, `NOT verified: ${e.message}.`, false, report, source);
    }
  });
}
