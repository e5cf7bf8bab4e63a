export declare const FAKE_KEY: string;
export declare function sanitizeTestId(name: string): string;
export type Provider = "openai" | "azure" | "anthropic" | "anthropicV1" | "gemini" | "bedrock" | "cohere" | "ollama";
export declare function baseUrls(prefixed: string): Record<Provider, string>;
export declare function sdkEnv(prefixed: string, testId: string, environ?: Record<string, string | undefined>): Record<string, string>;

export interface StartOptions {
  /** Cassette file(s) or directory(ies). */
  cassettes?: string | string[];
  /** More aimock command-line arguments. */
  args?: string[];
  /** The binary (default: AIMOCK_BIN, else `aimock` on PATH). */
  bin?: string;
  /** Record mode with these upstreams: `{openai: "https://api.openai.com"}`. */
  record?: Record<string, string>;
  cwd?: string;
}

export interface Aimock {
  readonly url: string;
  readonly log: string[];
  testUrl(testId: string): string;
  baseUrl(provider?: Provider, testId?: string): string;
  env(testId?: string): Record<string, string>;
  useEnv(testId?: string): () => void;
  addFixtures(fixtures: object[]): Promise<{ added: number }>;
  addFixture(match: object, response: object, extra?: object): Promise<{ added: number }>;
  journal(filters?: Record<string, string | number>): Promise<any[]>;
  misses(testId: string): Promise<any[]>;
  queueError(status?: number, message?: string, extra?: { type?: string; code?: string }): Promise<unknown>;
  chaos(testId: string, rates: { dropRate?: number; malformedRate?: number; disconnectRate?: number }): Promise<unknown>;
  reset(): Promise<unknown>;
  resetJournal(): Promise<unknown>;
  control(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<any>;
  stop(timeoutMs?: number): Promise<void>;
}

export declare function startAimock(options?: StartOptions): Promise<Aimock>;
