// nodemailer_send.js - sends one mail with the current nodemailer and its
// documented SES transport over SES v2 (@aws-sdk/client-sesv2's SESv2Client
// and SendEmailCommand), for tests/integ/test_v2_clients.py.
//
//   node nodemailer_send.js < spec.json
//
// spec: {"endpoint": "http://127.0.0.1:PORT", "region": "us-east-1",
//        "mail": {"from", "to", "cc", "bcc", "subject", "text",
//                 "attachments": [{"filename", "contentType", "content": "<base64>"}]}}
// Prints {"ok": true, "messageId", "response", "envelope", "raw": "<base64>"}
// (raw: the message nodemailer built and handed to SendEmail as
// Content.Raw.Data) or {"ok": false, "code", "message", "requestId",
// "httpStatusCode"}.
"use strict";

const nodemailer = require("nodemailer");
const { SESv2Client, SendEmailCommand } = require("@aws-sdk/client-sesv2");

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const spec = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const sesClient = new SESv2Client({
    region: spec.region || "us-east-1",
    endpoint: spec.endpoint,
    credentials: { accessKeyId: "AKIDMAILERV2THROWAWAY", secretAccessKey: "mailer-throwaway" },
  });
  const transporter = nodemailer.createTransport({ SES: { sesClient, SendEmailCommand } });
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
    const m = e.$metadata || {};
    process.stdout.write(JSON.stringify({
      ok: false, code: e.name, message: e.message, requestId: m.requestId,
      httpStatusCode: m.httpStatusCode,
    }) + "\n");
  } finally {
    sesClient.destroy();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
