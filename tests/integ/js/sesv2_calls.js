// sesv2_calls.js - makes SES v2 calls with @aws-sdk/client-sesv2 (the JS SDK
// v3) and prints, for each, what the SDK sent and what it made of the
// answer, as JSON, for tests/integ/test_v2_clients.py.
//
//   node sesv2_calls.js < spec.json
//
// spec: {"endpoint": "http://127.0.0.1:PORT", "region": "us-east-1",
//        "maxAttempts": N (optional; the SDK's default when absent),
//        "calls": [{"name": "...", "op": "SendEmail", "params": {...}}]}
// A parameter value {"$bytes": "<base64>"} is passed as bytes, {"$date":
// "<ISO 8601>"} as a Date. The credentials are throwaway ones: the proxy
// signs with its own.
//
// Prints one JSON array, a result per call, in order:
//   {"name", "ok": true, "data": {...}, "requestId", "httpStatusCode",
//    "attempts", "sent": {"method", "path", "query"},
//    "received": {"statusCode", "headers": {...}}} or
//   {"name", "ok": false, "code", "message", "fault", "requestId",
//    "httpStatusCode", "attempts", "sent", "received"}
// "sent" is the last request the SDK put on the wire (path as sent,
// query as the SDK's map), "received" the raw answer's status and header
// fields (lowercase names) before the SDK parsed them. Exits 0 unless the
// spec itself is unusable.
"use strict";

const { SESv2Client } = require("@aws-sdk/client-sesv2");
const sdk = require("@aws-sdk/client-sesv2");

const THROWAWAY = { accessKeyId: "AKIDJSV2THROWAWAY", secretAccessKey: "js-v2-throwaway-secret" };

function decodeParams(v) {
  if (Array.isArray(v)) return v.map(decodeParams);
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && typeof v.$bytes === "string") return Buffer.from(v.$bytes, "base64");
    if (keys.length === 1 && typeof v.$date === "string") return new Date(v.$date);
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = decodeParams(x);
    return out;
  }
  return v;
}

// JSON.stringify-able copy of an SDK's output (Dates as ISO strings, bytes
// as base64).
function plain(v) {
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString("base64") };
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (k !== "$metadata" && k !== "$response") out[k] = plain(x);
    }
    return out;
  }
  return v;
}

function lowerHeaders(h) {
  const out = {};
  for (const [k, v] of Object.entries(h || {})) out[k.toLowerCase()] = v;
  return out;
}

async function call(spec, c) {
  const client = new SESv2Client({
    region: spec.region || "us-east-1",
    endpoint: spec.endpoint,
    credentials: THROWAWAY,
    ...(spec.maxAttempts ? { maxAttempts: spec.maxAttempts } : {}),
  });
  const seen = { sent: null, received: null };
  // What goes on the wire, after signing (the last step before sending).
  client.middlewareStack.add(
    (next) => async (args) => {
      const r = args.request;
      seen.sent = { method: r.method, path: r.path, query: r.query || {} };
      return next(args);
    },
    { step: "finalizeRequest", priority: "low", name: "sesv2CallsSent" },
  );
  // The raw answer, before the deserializer reads it.
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        const out = await next(args);
        seen.received = { statusCode: out.response.statusCode,
                          headers: lowerHeaders(out.response.headers) };
        return out;
      } catch (e) {
        if (e && e.$response) {
          seen.received = { statusCode: e.$response.statusCode,
                            headers: lowerHeaders(e.$response.headers) };
        }
        throw e;
      }
    },
    { step: "deserialize", priority: "high", name: "sesv2CallsReceived" },
  );
  try {
    const out = await client.send(new sdk[c.op + "Command"](decodeParams(c.params || {})));
    const m = out.$metadata;
    return {
      ok: true, data: plain(out), requestId: m.requestId, httpStatusCode: m.httpStatusCode,
      attempts: m.attempts, sent: seen.sent, received: seen.received,
    };
  } catch (e) {
    const m = e.$metadata || {};
    return {
      ok: false, code: e.name, message: e.message, fault: e.$fault, requestId: m.requestId,
      httpStatusCode: m.httpStatusCode, attempts: m.attempts, sent: seen.sent,
      received: seen.received,
    };
  } finally {
    client.destroy();
  }
}

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const spec = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const results = [];
  for (const c of spec.calls) {
    if (typeof sdk[c.op + "Command"] !== "function") {
      console.error("sesv2_calls.js: @aws-sdk/client-sesv2 has no " + c.op + "Command");
      process.exit(2);
    }
    const r = await call(spec, c);
    r.name = c.name;
    results.push(r);
  }
  process.stdout.write(JSON.stringify(results) + "\n");
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
