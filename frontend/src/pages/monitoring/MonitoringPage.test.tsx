import { beforeEach, describe, expect, it } from "vitest";
import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { fakeApi, makeUser, renderApp, signIn } from "../../test/helpers";
import { flattenSpans, intentRows, latencyRows, seriesRows, traceBounds } from "./data";

beforeEach(() => signIn(makeUser("admin", "root")));

describe("monitoring data", () => {
  it("tolerates missing fields everywhere", () => {
    expect(intentRows(undefined, undefined)).toEqual([]);
    expect(latencyRows({})).toEqual([]);
    expect(seriesRows({})).toEqual({ rows: [], agents: [] });
    expect(seriesRows({ series: [{ t: 2 }, { t: 1, chats: 3 }] }).rows.map((r) => [r.t, r.chats])).toEqual([
      [1, 3],
      [2, 0],
    ]);
    expect(flattenSpans(undefined)).toEqual([]);
  });

  it("orders intents by count and keeps their confidence", () => {
    const rows = intentRows({ intents: { distribution: { billing: 2, refund: 9, other: 0 }, avg_confidence: { refund: 0.8 } } });
    expect(rows.map((r) => [r.key, r.value, r.confidence])).toEqual([
      ["refund", 9, 0.8],
      ["billing", 2, undefined],
    ]);
  });

  it("walks the span tree depth first", () => {
    const flat = flattenSpans([
      {
        span_id: "a",
        start_ms: 0,
        duration_ms: 10,
        children: [
          { span_id: "c", start_ms: 5, duration_ms: 2 },
          { span_id: "b", start_ms: 1, duration_ms: 3, children: [{ span_id: "d", start_ms: 2, duration_ms: 1 }] },
        ],
      },
    ]);
    expect(flat.map((f) => `${f.span.span_id}${f.depth}`)).toEqual(["a0", "b1", "d2", "c1"]);
    expect(traceBounds(flat)).toEqual({ start: 0, end: 10 });
  });
});

describe("monitoring page", () => {
  it("says so when the server has no monitoring API yet", async () => {
    fakeApi(); // every /api/monitoring path: 404
    renderApp("/monitoring");
    expect(await screen.findByText("Monitoring data isn't available yet")).toBeInTheDocument();
    expect(await screen.findByText("Traces aren't available yet")).toBeInTheDocument();
  });

  it("shows the figures, charts and traces it is given", async () => {
    const f = fakeApi();
    f.on("GET", "/api/monitoring/metrics", {
      body: {
        agent_performance: { intent_agent: { total_calls: 10, p50_ms: 4, p95_ms: 9, p99_ms: 12 } },
        intents: { distribution: { billing: 4, question: 6 } },
        escalations: { pending: 2, claimed: 1, resolved: 7, sla_breaches: 0, avg_first_response_s: 90 },
        chats: 42,
        deflection_rate: 0.75,
        system_health: { status: "degraded", services: { "intent-agent": { instances: 1 } } },
      },
    });
    f.on("GET", "/api/monitoring/dashboard", {
      body: { window_s: 3600, step_s: 60, series: [{ t: Date.now(), chats: 3, escalations: 1, errors: 0, latency_p95_ms: { gateway: 30 } }] },
    });
    f.on("GET", "/api/monitoring/traces", {
      body: { traces: [{ trace_id: "t1", name: "POST /api/chat", duration_ms: 1500, status: "error", services: ["gateway"], span_count: 3 }] },
    });
    renderApp("/monitoring");
    expect(await screen.findByRole("img", { name: "Deflection rate: 75%" })).toBeInTheDocument();
    expect(screen.getByText("42")).toBeInTheDocument();
    expect(screen.getByText("Degraded")).toBeInTheDocument();
    const health = screen.getByTestId("queue-health");
    expect(within(health).getByText("1m")).toBeInTheDocument();
    for (const name of ["Intent distribution", "Latency percentiles per agent", "Chats, escalations and errors over time"]) {
      expect(await screen.findByRole("figure", { name })).toBeInTheDocument();
    }
    const traces = await screen.findByTestId("traces-table");
    expect(within(traces).getByRole("link", { name: "POST /api/chat" })).toHaveAttribute("href", "/monitoring/traces/t1");
    expect(within(traces).getByText("1.5 s")).toBeInTheDocument();
    expect(f.calls.find((c) => c.path === "/api/monitoring/dashboard")!.query.get("window")).toBe("3600");
  });

  it("asks for slow or failed traces only", async () => {
    const f = fakeApi();
    f.on("GET", "/api/monitoring/traces", { body: { traces: [] } });
    renderApp("/monitoring");
    await screen.findByText("No traces match");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Slower than (ms)"), "250");
    await user.selectOptions(screen.getAllByLabelText("Status").pop()!, "error");
    await user.click(screen.getByRole("button", { name: "Apply" }));
    const q = f.calls.filter((c) => c.path === "/api/monitoring/traces").pop()!.query;
    expect(q.get("status")).toBe("error");
    expect(q.get("min_duration_ms")).toBe("250");
  });

  it("shows one trace's spans and a span's attributes", async () => {
    const f = fakeApi();
    f.on("GET", "/api/monitoring/traces/t1", {
      body: {
        trace_id: "t1",
        spans: [
          {
            span_id: "s1",
            name: "POST /api/chat",
            service: "gateway",
            start_ms: 1000,
            duration_ms: 40,
            status: "ok",
            children: [{ span_id: "s2", name: "classify", service: "intent-agent", start_ms: 1005, duration_ms: 8, status: "error", attributes: { intent: "billing" } }],
          },
        ],
      },
    });
    renderApp("/monitoring/traces/t1");
    const spans = await screen.findByRole("list", { name: /Spans/ });
    expect(within(spans).getAllByRole("button")).toHaveLength(2);
    expect(screen.getByText("2 spans")).toBeInTheDocument();
    expect(screen.getByText("1 error")).toBeInTheDocument();
    await userEvent.setup().click(within(spans).getByRole("button", { name: /classify/ }));
    expect(screen.getByText("billing")).toBeInTheDocument();
  });

  it("is for admins only", () => {
    fakeApi();
    signIn(makeUser("agent", "sam"));
    renderApp("/monitoring");
    expect(screen.getByRole("heading", { name: "Not available" })).toBeInTheDocument();
  });
});
