// Shared by the node --test files: one aimock per test file, from the JavaScript
// helper (js/aimock-test), serving tests/e2e/js/cassettes. Every socket is on
// 127.0.0.1; every key is fake.
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";

import { startAimock } from "../../../../js/aimock-test/index.mjs";

export const CASSETTES = fileURLToPath(new URL("../cassettes", import.meta.url));
export const FAKE_KEY = "sk-test-not-a-real-key";

/** Start aimock before the file's tests and stop it after; returns a getter. */
export function useAimock(options = {}) {
  let mock;
  before(async () => {
    mock = await startAimock({ cassettes: CASSETTES, ...options });
  });
  after(async () => {
    await mock?.stop();
  });
  return () => mock;
}

export const WEATHER_SCHEMA = {
  type: "object",
  properties: { city: { type: "string" } },
  required: ["city"],
};

/** Drain an async iterable into an array. */
export async function collect(iterable) {
  const out = [];
  for await (const x of iterable) out.push(x);
  return out;
}
