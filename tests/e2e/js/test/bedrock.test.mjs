// The official `@aws-sdk/client-bedrock-runtime` against aimock, with both of its
// Node request handlers: the default `NodeHttp2Handler` (against an http:// endpoint
// that is HTTP/2 over cleartext with prior knowledge, h2c: node's http2.connect sends
// the HTTP/2 preface at once, and aimock's listener serves HTTP/1.1 and HTTP/2 on the
// same port) and the HTTP/1.1 `NodeHttpHandler`. Converse and ConverseStream (text,
// tool use and its round trip, reasoning), InvokeModel and its response stream
// (EventStream frames carrying Anthropic events), typed errors, and a per-test id in
// the endpoint's path.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  ResourceNotFoundException,
  ThrottlingException,
} from "@aws-sdk/client-bedrock-runtime";
import { NodeHttp2Handler, NodeHttpHandler } from "@smithy/node-http-handler";

import { WEATHER_SCHEMA, collect, useAimock } from "./setup.mjs";

const aimock = useAimock();
const credentials = { accessKeyId: "test-not-a-real-key", secretAccessKey: "test-not-a-real-secret" };
const MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0";
const toolConfig = { tools: [{ toolSpec: { name: "get_weather", description: "Weather", inputSchema: { json: WEATHER_SCHEMA } } }] };
const user = (text) => [{ role: "user", content: [{ text }] }];

const handlers = {
  "default handler (NodeHttp2Handler, h2c)": () => undefined,
  "NodeHttpHandler (HTTP/1.1)": () => new NodeHttpHandler(),
};

for (const [label, handler] of Object.entries(handlers)) {
  describe(label, () => {
    const clients = [];
    const client = (testId) => {
      const c = new BedrockRuntimeClient({
        region: "us-east-1",
        credentials,
        endpoint: aimock().baseUrl("bedrock", testId),
        maxAttempts: 1,
        requestHandler: handler(),
      });
      clients.push(c);
      return c;
    };

    test("the handler in use is the one named", () => {
      const h = client().config.requestHandler;
      assert.ok(label.startsWith("default") ? h instanceof NodeHttp2Handler : h instanceof NodeHttpHandler, h.constructor.name);
    });

    test("converse text", async () => {
      const r = await client().send(new ConverseCommand({ modelId: MODEL, messages: user("hello") }));
      assert.equal(r.output.message.content[0].text, "Hello from aimock!");
      assert.equal(r.stopReason, "end_turn");
    });

    test("converse stream", async () => {
      const r = await client().send(new ConverseStreamCommand({ modelId: MODEL, messages: user("stream please") }));
      const events = await collect(r.stream);
      const text = events.map((e) => e.contentBlockDelta?.delta?.text).filter(Boolean);
      assert.ok(text.length > 1);
      assert.equal(text.join(""), "One, two, three, four.");
      assert.equal(events.find((e) => e.messageStop).messageStop.stopReason, "end_turn");
    });

    test("tool use and its round trip", async () => {
      const c = client();
      const first = await c.send(new ConverseCommand({ modelId: MODEL, messages: user("weather in Paris"), toolConfig }));
      assert.equal(first.stopReason, "tool_use");
      const use = first.output.message.content.find((b) => b.toolUse).toolUse;
      assert.equal(use.name, "get_weather");
      assert.deepEqual(use.input, { city: "Paris" });
      const second = await c.send(
        new ConverseCommand({
          modelId: MODEL,
          toolConfig,
          messages: [
            ...user("weather in Paris"),
            first.output.message,
            { role: "user", content: [{ toolResult: { toolUseId: use.toolUseId, content: [{ json: { sky: "clear" } }] } }] },
          ],
        }),
      );
      assert.equal(second.output.message.content[0].text, "It is sunny in Paris.");
    });

    test("reasoning content, whole and streamed", async () => {
      const r = await client().send(new ConverseCommand({ modelId: MODEL, messages: user("think") }));
      assert.deepEqual(r.output.message.content[0].reasoningContent.reasoningText, { text: "Six times seven is 42.", signature: "sig-test-1" });
      assert.equal(r.output.message.content[1].text, "The answer is 42.");
      const s = await client().send(new ConverseStreamCommand({ modelId: MODEL, messages: user("think") }));
      const deltas = (await collect(s.stream)).map((e) => e.contentBlockDelta?.delta).filter(Boolean);
      assert.equal(deltas.map((d) => d.reasoningContent?.text ?? "").join(""), "Six times seven is 42.");
      assert.equal(deltas.map((d) => d.text ?? "").join(""), "The answer is 42.");
    });

    test("invoke model, whole and as a response stream", async () => {
      const body = JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 100, messages: [{ role: "user", content: "hello" }] });
      const r = await client().send(new InvokeModelCommand({ modelId: MODEL, body, contentType: "application/json" }));
      assert.equal(JSON.parse(new TextDecoder().decode(r.body)).content[0].text, "Hello from aimock!");
      const s = await client().send(new InvokeModelWithResponseStreamCommand({ modelId: MODEL, body, contentType: "application/json" }));
      const events = (await collect(s.body)).map((e) => JSON.parse(new TextDecoder().decode(e.chunk.bytes)));
      const text = events.filter((e) => e.type === "content_block_delta").map((e) => e.delta.text).join("");
      assert.equal(text, "Hello from aimock!");
      assert.equal(events.at(-1).type, "message_stop");
    });

    test("typed errors: ThrottlingException from a 429 fixture, ResourceNotFoundException on a miss", async () => {
      await assert.rejects(client().send(new ConverseCommand({ modelId: MODEL, messages: user("rate limit") })), (e) => {
        assert.ok(e instanceof ThrottlingException, e.name);
        assert.equal(e.$metadata.httpStatusCode, 429);
        return true;
      });
      await assert.rejects(client().send(new ConverseCommand({ modelId: MODEL, messages: user("nothing matches this") })), (e) => {
        assert.ok(e instanceof ResourceNotFoundException, e.name);
        return true;
      });
    });

    test("per-test id in the endpoint's path", async () => {
      const id = label.startsWith("default") ? "js-bedrock-h2" : "js-bedrock-h1";
      const text = async (t) => (await client(t).send(new ConverseCommand({ modelId: MODEL, messages: user("sequence") }))).output.message.content[0].text;
      assert.deepEqual([await text(id), await text(id), await text(`${id}-other`)], ["first", "second", "first"]);
      const entries = await aimock().journal({ testId: id });
      assert.equal(entries.length, 2);
      assert.equal(entries[0].path, `/model/${encodeURIComponent(MODEL)}/converse`);
      // HTTP/1.1 always sends Host; an HTTP/2 request has :authority instead.
      assert.equal("host" in entries[0].headers, !label.startsWith("default"), JSON.stringify(entries[0].headers));
    });

    test("close the clients", () => {
      for (const c of clients) c.destroy();
    });
  });
}
