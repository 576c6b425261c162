// sdk_calls.js - makes SES calls with a real JS SDK and prints what the SDK
// made of each answer, as JSON, for tests/integ/test_js_sdks.py.
//
//   node sdk_calls.js < spec.json
//
// spec: {"client": "v3" | "v2" | "v3-sesv2" | "v2-sesv2",
//        "endpoint": "http://127.0.0.1:PORT[/path]", "region": "us-east-1",
//        "maxAttempts": N (optional; the SDK's default when absent),
//        "calls": [{"name": "...", "op": "SendEmail", "params": {...},
//                   "endpoint": "..." (optional, overrides)}]}
// A parameter value {"$bytes": "<base64>"} is passed as bytes (a Buffer).
// The credentials are throwaway ones: the proxy signs with its own.
//
// Prints one JSON array, a result per call, in order:
//   {"name", "ok": true, "data": {...}, "requestId", "extendedRequestId",
//    "httpStatusCode", "attempts"} or
//   {"name", "ok": false, "code", "message", "fault", "requestId",
//    "httpStatusCode", "attempts"}
// "attempts" is what the SDK reports (v3: $metadata.attempts; v2:
// retryCount + 1). Exits 0 unless the spec itself is unusable.
"use strict";

const THROWAWAY = { accessKeyId: "AKIDJSTHROWAWAY", secretAccessKey: "js-throwaway-secret" };

function decodeParams(v) {
  if (Array.isArray(v)) return v.map(decodeParams);
  if (v !== null && typeof v === "object") {
    if (Object.keys(v).length === 1 && typeof v.$bytes === "string") {
      return Buffer.from(v.$bytes, "base64");
    }
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

async function callV3(pkg, clientName, spec, call) {
  const sdk = require(pkg);
  const client = new sdk[clientName]({
    region: spec.region || "us-east-1",
    endpoint: call.endpoint || spec.endpoint,
    credentials: THROWAWAY,
    ...(spec.maxAttempts ? { maxAttempts: spec.maxAttempts } : {}),
  });
  try {
    const out = await client.send(new sdk[call.op + "Command"](decodeParams(call.params || {})));
    const m = out.$metadata;
    return {
      ok: true, data: plain(out), requestId: m.requestId, extendedRequestId: m.extendedRequestId,
      httpStatusCode: m.httpStatusCode, attempts: m.attempts,
    };
  } catch (e) {
    const m = e.$metadata || {};
    return {
      ok: false, code: e.name, message: e.message, fault: e.$fault, requestId: m.requestId,
      extendedRequestId: m.extendedRequestId, httpStatusCode: m.httpStatusCode,
      attempts: m.attempts,
    };
  } finally {
    client.destroy();
  }
}

async function callV2(serviceName, spec, call) {
  const AWS = require("aws-sdk");
  const service = new AWS[serviceName]({
    region: spec.region || "us-east-1",
    endpoint: call.endpoint || spec.endpoint,
    ...THROWAWAY,
    ...(spec.maxAttempts ? { maxRetries: spec.maxAttempts - 1 } : {}),
  });
  const method = call.op[0].toLowerCase() + call.op.slice(1);
  const req = service[method](decodeParams(call.params || {}));
  try {
    const data = await req.promise();
    const resp = req.response;
    return {
      ok: true, data: plain(data), requestId: resp.requestId,
      extendedRequestId: resp.extendedRequestId || resp.httpResponse.headers["x-amz-id-2"],
      httpStatusCode: resp.httpResponse.statusCode, attempts: resp.retryCount + 1,
    };
  } catch (e) {
    const resp = req.response;
    return {
      ok: false, code: e.code, message: e.message, fault: null, requestId: e.requestId,
      httpStatusCode: e.statusCode, attempts: resp.retryCount + 1,
    };
  }
}

const CLIENTS = {
  v3: (spec, call) => callV3("@aws-sdk/client-ses", "SESClient", spec, call),
  "v3-sesv2": (spec, call) => callV3("@aws-sdk/client-sesv2", "SESv2Client", spec, call),
  v2: (spec, call) => callV2("SES", spec, call),
  "v2-sesv2": (spec, call) => callV2("SESV2", spec, call),
};

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const spec = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const run = CLIENTS[spec.client];
  if (!run) {
    console.error("sdk_calls.js: unknown client " + spec.client);
    process.exit(2);
  }
  const results = [];
  for (const call of spec.calls) {
    const t0 = Date.now();
    const r = await run(spec, call);
    r.name = call.name;
    r.elapsedMs = Date.now() - t0;
    results.push(r);
  }
  process.stdout.write(JSON.stringify(results) + "\n");
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
