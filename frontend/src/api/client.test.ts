import { describe, expect, it } from "vitest";
import { ApiError, api, friendlyError, parseRetryAfter, setToken } from "./client";
import { fakeApi } from "../test/helpers";

describe("api client", () => {
  it("sends JSON with the bearer token and returns the body", async () => {
    const f = fakeApi();
    f.on("POST", "/api/chat", ({ body }) => ({ body: { echoed: body } }));
    setToken("abc");
    const r = await api<{ echoed: unknown }>("/api/chat", { body: { message: "hi" } });
    setToken(null);
    expect(r.echoed).toEqual({ message: "hi" });
    expect(f.calls[0].auth).toBe("Bearer abc");
  });

  it("turns the server's error shape and Retry-After into an ApiError", async () => {
    const f = fakeApi();
    f.on("POST", "/api/chat", {
      status: 429,
      body: { error: "rate_limited", detail: "slow down" },
      headers: { "Retry-After": "7" },
    });
    const e = (await api("/api/chat", { body: { message: "x" } }).catch((x: unknown) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(429);
    expect(e.code).toBe("rate_limited");
    expect(e.retryAfter).toBe(7);
    expect(friendlyError(e)).toBe("You're sending requests too quickly. Please try again in 7 seconds.");
  });

  it("leaves out empty query parameters", async () => {
    const f = fakeApi();
    f.on("GET", "/api/x", { body: {} });
    await api("/api/x", { query: { a: 1, b: "", c: undefined, d: "z" } });
    expect(f.calls[0].query.toString()).toBe("a=1&d=z");
  });

  it("reads Retry-After as seconds or a date", () => {
    expect(parseRetryAfter("3")).toBe(3);
    expect(parseRetryAfter(null)).toBeUndefined();
    const when = new Date(Date.now() + 10_000).toUTCString();
    expect(parseRetryAfter(when)).toBeGreaterThanOrEqual(8);
  });

  it("says what went wrong in plain words", () => {
    expect(friendlyError(new ApiError(0, "network", ""))).toMatch(/can't reach the server/);
    expect(friendlyError(new ApiError(401, "invalid_credentials", "wrong username or password"))).toBe(
      "That username and password don't match.",
    );
    expect(friendlyError(new ApiError(503, "escalation_unavailable", "x", 5))).toMatch(
      /message is saved.*5 seconds/,
    );
    expect(friendlyError(new ApiError(409, "username_taken", "this username is taken"))).toBe(
      "This username is taken.",
    );
  });
});
