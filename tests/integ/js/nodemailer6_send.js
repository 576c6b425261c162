// nodemailer6_send.js - sends one mail with nodemailer 6 (the npm alias
// nodemailer6) and its SES transport over @aws-sdk/client-ses, for
// tests/integ/test_js_sdks.py.
//
//   node nodemailer6_send.js < spec.json
//
// spec: {"endpoint": "http://127.0.0.1:PORT", "region": "us-east-1",
//        "mail": {"from", "to", "cc", "bcc", "subject", "text",
//                 "attachments": [{"filename", "contentType", "content": "<base64>"}]}}
// Prints {"ok": true, "messageId", "response", "envelope", "raw": "<base64>"}
// (raw: the message nodemailer built and handed to SendRawEmail) or
// {"ok": false, "code", "message", "requestId"}.
"use strict";

const nodemailer = require("nodemailer6");
const { SESClient, SendRawEmailCommand } = require("@aws-sdk/client-ses");

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const spec = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const ses = new SESClient({
    region: spec.region || "us-east-1",
    endpoint: spec.endpoint,
    credentials: { accessKeyId: "AKIDMAILERTHROWAWAY", secretAccessKey: "mailer-throwaway" },
  });
  const transporter = nodemailer.createTransport({ SES: { ses, aws: { SendRawEmailCommand } } });
  const mail = Object.assign({}, spec.mail, {
    attachments: (spec.mail.attachments || []).map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: Buffer.from(a.content, "base64"),
    })),
  });
  try {
    const info = await transporter.sendMail(mail);
    process.stdout.write(JSON.stringify({
      ok: true, messageId: info.messageId, response: info.response, envelope: info.envelope,
      raw: Buffer.from(info.raw).toString("base64"),
    }) + "\n");
  } catch (e) {
    process.stdout.write(JSON.stringify({
      ok: false, code: e.name, message: e.message,
      requestId: e.$metadata ? e.$metadata.requestId : undefined,
    }) + "\n");
  } finally {
    ses.destroy();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
