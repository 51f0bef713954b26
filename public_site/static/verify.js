// "Verify in my browser": recompute the entry's leaf hash, check its inclusion
// proof against the checkpoint (RFC 9162 §2.1.3.2), and check the checkpoint's
// Ed25519 signature (C2SP signed-note) with WebCrypto against the log's key.
// No dependencies, no build step; the data is in <script id="proof-data">.

const te = new TextEncoder();

function fromB64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function toB64(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

const leafHash = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

// RFC 9162 §2.1.3.2, with arithmetic instead of bit operators (indices may exceed 2^31).
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

// C2SP signed-note: the vkey is <name>+<key hash, 8 hex>+<base64(0x01 || 32-byte key)>.
async function checkNote(note, vkey) {
  // The name cannot contain "+", the base64 key can: split at the first two only.
  const i = vkey.indexOf("+"), j = vkey.indexOf("+", i + 1);
  if (i < 0 || j < 0) throw new Error("the log key is not a vkey (name+hash+key)");
  const name = vkey.slice(0, i), hashHex = vkey.slice(i + 1, j), keyB64 = vkey.slice(j + 1);
  const keyBytes = fromB64(keyB64);
  if (keyBytes.length !== 33 || keyBytes[0] !== 1) throw new Error("the log key is not an Ed25519 vkey");
  const keyHash = (await sha256(concat(te.encode(name), Uint8Array.of(0x0a), keyBytes))).slice(0, 4);
  if ([...keyHash].map((b) => b.toString(16).padStart(2, "0")).join("") !== hashHex) {
    throw new Error("the log key's hash does not match its name and key");
  }
  const split = note.indexOf("\n\n");
  if (split < 0) throw new Error("the checkpoint has no signatures");
  const body = note.slice(0, split + 1);
  let sig = null;
  for (const line of note.slice(split + 2).split("\n")) {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const raw = fromB64(m[2]);
    if (raw.length === 68 && equal(raw.slice(0, 4), keyHash)) sig = raw.slice(4);
  }
  if (sig === null) throw new Error(`the checkpoint carries no signature by ${name}`);
  let key;
  try {
    key = await crypto.subtle.importKey("raw", keyBytes.slice(1), { name: "Ed25519" }, false, ["verify"]);
  } catch (e) {
    throw new Error("this browser cannot check Ed25519 signatures (WebCrypto); use frontier-verify instead");
  }
  if (!(await crypto.subtle.verify({ name: "Ed25519" }, key, sig, te.encode(body)))) {
    throw new Error("the checkpoint's signature does not verify under the log's key");
  }
  const lines = body.split("\n");
  return { origin: lines[0], size: Number(lines[1]), root: fromB64(lines[2]) };
}

async function verify(data) {
  const leaf = fromB64(data.leaf);
  const hash = await leafHash(leaf);
  const cp = await checkNote(data.checkpoint, data.vkey);
  if (cp.size !== data.tree_size) throw new Error(`the proof is for tree size ${data.tree_size}, the checkpoint is ${cp.size}`);
  const root = await rootFromInclusion(data.index, data.tree_size, hash, data.hashes.map(fromB64));
  if (!equal(root, cp.root)) {
    throw new Error("the inclusion proof does not lead to the checkpoint's root: this leaf is not the one the log holds at this index");
  }
  return `Verified: entry ${data.index} is in the log ${cp.origin}. Its leaf hashes to ${toB64(hash)}; ` +
    `the inclusion proof leads to the root of the checkpoint at tree size ${cp.size}, ` +
    `whose Ed25519 signature verifies under the log's key.`;
}

const button = document.getElementById("verify-button");
const result = document.getElementById("verify-result");
if (button && result) {
  button.addEventListener("click", async () => {
    result.className = "";
    result.textContent = "Checking…";
    try {
      const data = JSON.parse(document.getElementById(button.dataset.proof).textContent);
      result.textContent = await verify(data);
      result.className = "ok";
    } catch (e) {
      result.textContent = `NOT verified: ${e.message}.`;
      result.className = "bad";
    }
  });
}
