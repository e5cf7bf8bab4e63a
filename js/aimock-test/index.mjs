// aimock-test: start the aimock binary for one test file and talk to its control API.
//
// Scope: spawning the binary (AIMOCK_BIN, else `aimock` on PATH) on 127.0.0.1 port 0,
// reading the port it bound from its first line of output, per-test base URLs with the
// test-id path prefix (`/__test/<id>`, which aimock strips and uses as the request's
// test id, so sequences and recordings are per test through any SDK), the environment
// variables the official SDKs read, the control API, and stopping the process. Not
// here: building the binary (scripts/e2e-js.sh does), test-framework hooks (the caller
// wires startAimock into beforeAll/afterAll, which every runner has under that name).
//
// No dependencies beyond Node's standard library, so it works the same under
// node --test, vitest and jest.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const READY = "aimock listening on ";
const FAKE_KEY = "sk-test-not-a-real-key";

/** A test id from a test's name, safe in a URL path segment. */
export function sanitizeTestId(name) {
  const id = String(name).replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
  return (id || "test").slice(0, 120);
}

/** The base URL each SDK wants, given `http://HOST:PORT/__test/<id>`. */
export function baseUrls(prefixed) {
  return {
    openai: `${prefixed}/v1`, // openai, @ai-sdk/openai, @langchain/openai
    azure: prefixed, // AzureOpenAI endpoint: /openai/deployments/... is appended
    anthropic: prefixed, // @anthropic-ai/sdk appends /v1/messages; @ai-sdk/anthropic wants .../v1
    anthropicV1: `${prefixed}/v1`,
    gemini: prefixed, // @google/genai httpOptions.baseUrl
    bedrock: prefixed, // BedrockRuntimeClient endpoint
    cohere: prefixed, // CohereClientV2 environment/baseUrl
    ollama: prefixed, // new Ollama({host})
  };
}

/** The variables the official SDKs read for a base URL, and fake keys where unset. */
export function sdkEnv(prefixed, testId, environ = process.env) {
  const u = baseUrls(prefixed);
  const env = {
    AIMOCK_URL: prefixed,
    AIMOCK_TEST_ID: testId,
    OPENAI_BASE_URL: u.openai,
    ANTHROPIC_BASE_URL: u.anthropic,
    GOOGLE_GEMINI_BASE_URL: u.gemini,
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: u.bedrock,
    CO_API_URL: u.cohere,
    OLLAMA_HOST: u.ollama,
  };
  for (const k of ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "CO_API_KEY"]) {
    if (!environ[k]) env[k] = FAKE_KEY;
  }
  if (!environ.AWS_ACCESS_KEY_ID) {
    env.AWS_ACCESS_KEY_ID = "test-not-a-real-key";
    env.AWS_SECRET_ACCESS_KEY = "test-not-a-real-secret";
  }
  if (!environ.AWS_REGION) env.AWS_REGION = "us-east-1";
  return env;
}

/**
 * Start aimock. Options: `cassettes` (a path or a list), `args` (more command-line
 * arguments), `bin` (the binary; default AIMOCK_BIN, else `aimock` on PATH), `record`
 * (`{openai: "https://api.openai.com", ...}`: record mode with these upstreams),
 * `cwd`. Resolves to a handle; call `stop()` when the file is done (afterAll).
 */
export async function startAimock(options = {}) {
  const bin = options.bin || process.env.AIMOCK_BIN || "aimock";
  const args = [options.record ? "record" : "replay", "--host", "127.0.0.1", "--port", "0"];
  const cassettes = options.cassettes == null ? [] : [].concat(options.cassettes);
  for (const c of cassettes) args.push("--cassettes", String(c));
  for (const [provider, url] of Object.entries(options.record || {})) args.push(`--provider-${provider}`, url);
  args.push(...(options.args || []));

  const child = spawn(bin, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
  const log = [];
  const keep = (line) => {
    log.push(line);
    if (log.length > 2000) log.shift();
  };
  createInterface({ input: child.stderr }).on("line", keep);
  // Never outlive the test process, even when a file forgets to stop it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const url = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const fail = (why) => reject(new Error(`aimock did not start (${bin} ${args.join(" ")}): ${why}\n${log.join("\n")}`));
    child.once("error", (e) => fail(e.message));
    child.once("exit", (code) => fail(`exited with ${code}`));
    lines.once("line", (line) => {
      if (line.startsWith(READY)) resolve(line.slice(READY.length).trim());
      else fail(JSON.stringify(line));
      lines.on("line", keep);
    });
  });
  child.removeAllListeners("exit");

  async function control(method, path, body, headers = {}) {
    const h = { "content-type": "application/json", ...headers };
    if (process.env.AIMOCK_CONTROL_TOKEN) h.authorization = `Bearer ${process.env.AIMOCK_CONTROL_TOKEN}`;
    const r = await fetch(url + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path} answered ${r.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  }

  const handle = {
    /** `http://127.0.0.1:PORT`: the server, without a test id. */
    url,
    /** The last lines aimock logged (stderr). */
    log,
    /** `url` under a test id: `http://127.0.0.1:PORT/__test/<id>`. */
    testUrl(testId) {
      return `${url}/__test/${encodeURIComponent(sanitizeTestId(testId))}`;
    },
    /** The base URL for `provider` (openai, azure, anthropic, anthropicV1, gemini, bedrock, cohere, ollama), under `testId` when given. */
    baseUrl(provider = "openai", testId) {
      const u = baseUrls(testId == null ? url : handle.testUrl(testId))[provider];
      if (!u) throw new Error(`unknown provider ${provider}`);
      return u;
    },
    /** The SDK environment for `testId` (not applied). */
    env(testId) {
      return sdkEnv(testId == null ? url : handle.testUrl(testId), testId == null ? "" : sanitizeTestId(testId));
    },
    /** Apply `env(testId)` to process.env; returns a function that puts it back. */
    useEnv(testId) {
      const env = handle.env(testId);
      const before = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
      Object.assign(process.env, env);
      return () => {
        for (const [k, v] of Object.entries(before)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      };
    },
    /** Add fixtures in the cassette format (appended: lowest priority). */
    addFixtures: (fixtures) => control("POST", "/__aimock/fixtures", { fixtures }),
    addFixture: (match, response, extra = {}) => control("POST", "/__aimock/fixtures", { fixtures: [{ match, response, ...extra }] }),
    /** Journal entries, oldest first; `filters` are the journal's query parameters (`testId`, sanitised as `testUrl` does; `path`, `status`, ...). */
    journal: (filters = {}) => {
      const f = { ...filters };
      if (f.testId != null) f.testId = sanitizeTestId(f.testId); // as testUrl sent it
      const q = new URLSearchParams(Object.entries(f).map(([k, v]) => [k, String(v)])).toString();
      return control("GET", `/__aimock/journal${q ? `?${q}` : ""}`);
    },
    /** Entries of `testId` that no fixture answered. */
    misses: async (testId) => (await handle.journal({ testId: sanitizeTestId(testId) })).filter((e) => e.response && e.response.miss),
    /** Answer the next provider request with this error, once. */
    queueError: (status = 500, message = "Injected error", extra = {}) =>
      control("POST", "/__aimock/error", { status, body: { message, ...extra } }),
    /** Chaos rates for one test id (`{dropRate, malformedRate, disconnectRate}`); needs `/__aimock/chaos`. */
    chaos: (testId, rates) => control("POST", "/__aimock/chaos", rates, { "x-test-id": sanitizeTestId(testId) }),
    /** Full reset: fixtures, journal, sequence counts. */
    reset: () => control("POST", "/__aimock/reset"),
    resetJournal: () => control("POST", "/__aimock/reset/journal"),
    control,
    /** Stop the server (SIGTERM, then SIGKILL after `timeoutMs`). */
    async stop(timeoutMs = 10000) {
      process.removeListener("exit", killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
  return handle;
}

export { FAKE_KEY };
