// js/aimock-test itself: the SDK environment a test applies with useEnv (SDKs built
// without options read it) and puts back, the control-API helpers, record mode
// against a loopback fake upstream (the upstream gets the path without the test-id
// prefix; the recording lands under the test id), and a clear error for a binary that
// does not start.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";

import { sanitizeTestId, startAimock } from "../../../../js/aimock-test/index.mjs";
import { useAimock } from "./setup.mjs";

const aimock = useAimock();

test("useEnv points SDKs built without options at this test's id, and puts the environment back", async () => {
  const before = process.env.OPENAI_BASE_URL;
  const restore = aimock().useEnv("helper env test");
  try {
    assert.equal(process.env.OPENAI_BASE_URL, `${aimock().url}/__test/helper-env-test/v1`);
    assert.equal(process.env.AIMOCK_TEST_ID, "helper-env-test");
    const o = await new OpenAI({ maxRetries: 0 }).chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "sequence" }] });
    const a = await new Anthropic({ maxRetries: 0 }).messages.create({ model: "claude-sonnet-4-5", max_tokens: 50, messages: [{ role: "user", content: "sequence" }] });
    assert.deepEqual([o.choices[0].message.content, a.content[0].text], ["first", "second"]);
    const entries = await aimock().journal({ testId: "helper env test" });
    assert.deepEqual(entries.map((e) => e.provider), ["openai", "anthropic"]);
  } finally {
    restore();
  }
  assert.equal(process.env.OPENAI_BASE_URL, before);
});

test("addFixture, misses and sanitised ids", async () => {
  await aimock().addFixture({ userMessage: "added by the helper" }, { content: "from addFixture" });
  const c = new OpenAI({ apiKey: "sk-test-not-a-real-key", baseURL: aimock().baseUrl("openai", "helper-fixtures"), maxRetries: 0 });
  const r = await c.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "added by the helper" }] });
  assert.equal(r.choices[0].message.content, "from addFixture");
  await assert.rejects(c.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "no such fixture" }] }));
  const misses = await aimock().misses("helper-fixtures");
  assert.equal(misses.length, 1);
  assert.match(misses[0].response.miss, /no such fixture/);
  assert.equal(sanitizeTestId("suite › case [1]"), "suite-case-1");
});

let upstream;
let upstreamUrl;
const seen = [];
before(async () => {
  upstream = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      seen.push({ path: req.url, testId: req.headers["x-test-id"] });
      const reply = JSON.stringify({
        id: "chatcmpl-up",
        object: "chat.completion",
        created: 1,
        model: "gpt-4o",
        choices: [{ index: 0, message: { role: "assistant", content: "from upstream" }, finish_reason: "stop" }],
        usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
      });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(reply) });
      res.end(reply);
    });
  });
  await new Promise((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${upstream.address().port}`;
});
after(() => upstream.close());

test("record mode: the upstream gets the stripped path, the recording is filed under the test id", async () => {
  const dir = mkdtempSync(join(tmpdir(), "aimock-js-rec-"));
  const rec = await startAimock({ cassettes: dir, record: { openai: upstreamUrl } });
  try {
    const c = new OpenAI({ apiKey: "sk-test-not-a-real-key", baseURL: rec.baseUrl("openai", "js-record-test"), maxRetries: 0 });
    const r = await c.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "record me" }] });
    assert.equal(r.choices[0].message.content, "from upstream");
  } finally {
    await rec.stop();
  }
  assert.deepEqual(seen, [{ path: "/v1/chat/completions", testId: undefined }]);
  const doc = JSON.parse(readFileSync(join(dir, "recorded", "js-record-test", "openai.json"), "utf8"));
  assert.equal(doc.fixtures[0].response.content, "from upstream");
});

test("a binary that does not start is a clear error", async () => {
  await assert.rejects(startAimock({ bin: "/nonexistent/aimock" }), /aimock did not start/);
  await assert.rejects(startAimock({ args: ["--no-such-flag"] }), /aimock did not start/);
});
