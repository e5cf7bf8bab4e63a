// Runs one AG-UI agent turn with the official client (@ag-ui/client's HttpAgent) and
// prints what the client saw as one JSON line: every event its subscriber received,
// the messages the run added, and the agent's thread/run ids. The pytest side
// (test_agents_agui_js.py) asserts on it; this file only drives the client.
//
// Usage: node agui_run.mjs URL MESSAGE THREAD_ID RUN_ID
import { HttpAgent } from "@ag-ui/client";

const [url, message, threadId, runId] = process.argv.slice(2);
const agent = new HttpAgent({
  url,
  threadId,
  initialMessages: [{ id: "user-1", role: "user", content: message }],
});
const events = [];
try {
  const result = await agent.runAgent(
    { runId },
    { onEvent: ({ event }) => { events.push(event); } },
  );
  console.log(JSON.stringify({ ok: true, events, newMessages: result.newMessages, messages: agent.messages }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e && e.message || e), events }));
  process.exitCode = 1;
}
