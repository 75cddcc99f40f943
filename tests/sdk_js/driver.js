// Drives an official TypeScript SDK, unmodified, for the pytest suite (tests/sdk_js/*.py).
//
// stdin: {"sdk": "sync" | "wavespeed", "options": {...}, "calls": [{"op": "generations.create", "args": [...]}]}
// stdout: one JSON array, one entry per call: {"ok": true, "data": ...} or {"ok": false, "error": {...}}.
// An argument {"$file": path} is passed as fs.createReadStream(path) (the SDKs' file parameters).
// The calls run in order; a failed call does not stop the ones after it.
"use strict";

const fs = require("fs");

// the WaveSpeed SDK logs its retries with console.log: keep stdout for the result alone
console.log = (...args) => console.error(...args);

function client(sdk, options) {
  if (sdk === "sync") {
    const { SyncClient } = require("@sync.so/sdk");
    return new SyncClient(options);
  }
  if (sdk === "wavespeed") {
    const { Client } = require("wavespeed");
    return new Client(options.apiKey, options);
  }
  throw new Error(`unknown sdk ${sdk}`);
}

function argument(value) {
  if (value && typeof value === "object" && !Array.isArray(value) && "$file" in value) {
    return fs.createReadStream(value.$file);
  }
  return value;
}

function plain(value) {
  // errors (and errors nested in a runNoThrow result) as their name, message and own fields
  return JSON.parse(JSON.stringify(value === undefined ? null : value, (key, v) => {
    if (v instanceof Error) {
      const out = { name: v.constructor.name, message: v.message };
      for (const k of Object.keys(v)) if (k !== "rawResponse") out[k] = v[k];
      return out;
    }
    return v;
  }));
}

async function main() {
  const spec = JSON.parse(fs.readFileSync(0, "utf8"));
  const api = client(spec.sdk, spec.options || {});
  const results = [];
  for (const call of spec.calls) {
    const path = call.op.split(".");
    const method = path.pop();
    const target = path.reduce((obj, name) => obj[name], api);
    try {
      const data = await target[method](...(call.args || []).map(argument));
      results.push({ ok: true, data: plain(data) });
    } catch (error) {
      results.push({ ok: false, error: plain(error) });
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
