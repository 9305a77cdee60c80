import { beforeEach, describe, expect, it } from "vitest";
import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { Escalation } from "../../api/types";
import { FakeEventSource, fakeApi, installFakeEventSource, makeUser, renderApp, signIn } from "../../test/helpers";
import { applyToList, matches } from "./queue";

function esc(over: Partial<Escalation> = {}): Escalation {
  return {
    id: "e_1",
    conversation_id: "c_1",
    customer_message: "My order arrived broken, I want to complain",
    ai_draft: "I'm sorry, a replacement is on its way.",
    intent: "complaint",
    confidence: 0.9,
    reason: "policy_complaint",
    status: "pending",
    created_at: new Date(Date.now() - 120_000).toISOString(),
    age_seconds: 120,
    sla_breached: false,
    knowledge_ids: [],
    ...over,
  };
}

const list = (items: Escalation[]) => ({ body: { escalations: items, total: items.length, limit: 200, offset: 0 } });

beforeEach(() => {
  installFakeEventSource();
  signIn(makeUser("agent", "sam"), "tok-sam");
});

describe("queue logic", () => {
  it("matches the status, intent and SLA filters", () => {
    const f = { status: "open" as const, intent: "", breached: false };
    expect(matches(esc(), f)).toBe(true);
    expect(matches(esc({ status: "claimed" }), f)).toBe(true);
    expect(matches(esc({ status: "resolved" }), f)).toBe(false);
    expect(matches(esc(), { ...f, intent: "billing" })).toBe(false);
    expect(matches(esc(), { ...f, breached: true })).toBe(false);
    expect(matches(esc({ sla_breached: true }), { ...f, breached: true })).toBe(true);
  });

  it("adds, replaces and drops items, oldest first", () => {
    const f = { status: "open" as const, intent: "", breached: false };
    const old = esc({ id: "e_old", created_at: "2025-01-01T09:00:00Z" });
    const young = esc({ id: "e_young", created_at: "2025-01-01T10:00:00Z" });
    let l = { escalations: [young], total: 1, limit: 200, offset: 0 };
    l = applyToList(l, old, f);
    expect(l.escalations.map((e) => e.id)).toEqual(["e_old", "e_young"]);
    l = applyToList(l, { ...old, status: "claimed", claimed_by: "sam" }, f);
    expect(l.escalations[0].claimed_by).toBe("sam");
    l = applyToList(l, { ...old, status: "resolved" }, f);
    expect(l.escalations.map((e) => e.id)).toEqual(["e_young"]);
    expect(l.total).toBe(1);
  });
});

describe("review queue", () => {
  it("lists the queue oldest first with age and SLA state", async () => {
    const f = fakeApi();
    f.on("GET", "/api/hitl/escalations/pending", list([
      esc({ id: "e_2", customer_message: "second", created_at: new Date(Date.now() - 60_000).toISOString() }),
      esc({ id: "e_1", customer_message: "first", created_at: new Date(Date.now() - 20 * 60_000).toISOString(), sla_breached: true }),
    ]));
    renderApp("/review");
    const items = await screen.findAllByTestId("queue-item");
    expect(items.map((i) => i.querySelector(".queue-text")!.textContent)).toEqual(["first", "second"]);
    expect(items[0]).toHaveTextContent("20m");
    expect(items[0]).toHaveTextContent("SLA breached");
    expect(items[1]).toHaveTextContent("Within SLA");
    expect(screen.getByText(/2 waiting · 1 past SLA/)).toBeInTheDocument();
    expect(f.calls.find((c) => c.path.endsWith("/pending"))!.query.get("status")).toBe("open");
  });

  it("shows a new escalation the moment the stream announces it, without polling", async () => {
    const f = fakeApi();
    f.on("GET", "/api/hitl/escalations/pending", list([]));
    renderApp("/review");
    expect(await screen.findByText("Nothing waiting")).toBeInTheDocument();
    const es = FakeEventSource.latest("/api/hitl/stream")!;
    expect(es.url).toContain("access_token=tok-sam");
    act(() => es.open());
    const before = f.calls.length;
    act(() => es.emit("escalation", { kind: "created", escalation: esc({ customer_message: "I was charged twice" }) }));
    const item = await screen.findByTestId("queue-item");
    expect(item).toHaveTextContent("I was charged twice");
    expect(item).toHaveTextContent("New");
    // The event itself carried the item: no request was needed.
    expect(f.calls.slice(before).filter((c) => c.path.endsWith("/pending"))).toHaveLength(0);
    act(() => es.emit("escalation", { kind: "resolved", escalation: esc({ status: "resolved" }) }));
    await waitFor(() => expect(screen.queryByTestId("queue-item")).not.toBeInTheDocument());
  });

  it("filters by intent and SLA on the server", async () => {
    const f = fakeApi();
    f.on("GET", "/api/hitl/escalations/pending", list([]));
    renderApp("/review");
    await screen.findByText("Nothing waiting");
    const user = userEvent.setup();
    await user.selectOptions(screen.getByLabelText("Intent"), "billing");
    await user.click(screen.getByLabelText("Past SLA only"));
    await waitFor(() => {
      const q = f.calls.filter((c) => c.path.endsWith("/pending")).pop()!.query;
      expect(q.get("intent")).toBe("billing");
      expect(q.get("breached")).toBe("true");
    });
  });

  it("claims, edits the draft and sends it with notes and knowledge", async () => {
    const f = fakeApi();
    const item = esc();
    f.on("GET", "/api/hitl/escalations/pending", list([item]));
    f.on("GET", "/api/hitl/escalations/e_1", {
      body: {
        ...item,
        transcript: [
          { role: "user", text: "My order arrived broken, I want to complain" },
          { role: "assistant", text: "Thanks for your message." },
        ],
      },
    });
    f.on("POST", "/api/hitl/escalations/e_1/claim", { body: { ...item, status: "claimed", claimed_by: "sam" } });
    f.on("POST", "/api/hitl/escalations/e_1/edit", ({ body }) => ({
      body: {
        ...item,
        status: "resolved",
        resolution: "edited",
        final_reply: (body as { reply: string }).reply,
        resolved_by: "sam",
        handed_back: true,
        knowledge_ids: ["k_1"],
      },
    }));
    renderApp("/review/e_1");
    const panel = await screen.findByTestId("escalation-panel");
    expect(within(panel).getByTestId("transcript")).toHaveTextContent("Thanks for your message.");
    expect(within(panel).getByTestId("ai-draft")).toHaveTextContent("a replacement is on its way");
    const user = userEvent.setup();
    await user.click(within(panel).getByRole("button", { name: "Claim" }));
    await within(panel).findByText(/You've claimed this escalation/);
    await user.click(within(panel).getByRole("radio", { name: /Edit/ }));
    const reply = within(panel).getByLabelText("Edited reply");
    expect(reply).toHaveValue(item.ai_draft);
    await user.clear(reply);
    await user.type(reply, "So sorry! A new one ships today.");
    await user.type(within(panel).getByLabelText("Internal notes (optional)"), "sent replacement");
    await user.click(within(panel).getByLabelText(/Add to knowledge/));
    await user.click(within(panel).getByRole("button", { name: "Send edited reply" }));
    await within(panel).findByText(/Reply sent to the customer\. The conversation is back with the AI\. Added to the knowledge base\./);
    expect(f.calls.find((c) => c.path.endsWith("/edit"))!.body).toEqual({
      reply: "So sorry! A new one ships today.",
      notes: "sent replacement",
      hand_back: true,
      add_to_knowledge: true,
    });
  });

  it("approves the draft as it is, keeping the conversation with the team", async () => {
    const f = fakeApi();
    const item = esc({ status: "claimed", claimed_by: "sam" });
    f.on("GET", "/api/hitl/escalations/pending", list([item]));
    f.on("GET", "/api/hitl/escalations/e_1", { body: item });
    f.on("POST", "/api/hitl/escalations/e_1/approve", {
      body: { ...item, status: "resolved", resolution: "approved", final_reply: item.ai_draft, handed_back: false },
    });
    renderApp("/review/e_1");
    const panel = await screen.findByTestId("escalation-panel");
    const user = userEvent.setup();
    await user.click(within(panel).getByLabelText(/Hand the conversation back/));
    await user.click(within(panel).getByRole("button", { name: "Approve and send" }));
    await within(panel).findByText(/The conversation stays with the team/);
    expect(f.calls.find((c) => c.path.endsWith("/approve"))!.body).toEqual({ hand_back: false, add_to_knowledge: false });
  });

  it("explains a 409: someone else claimed it first", async () => {
    const f = fakeApi();
    const item = esc();
    f.on("GET", "/api/hitl/escalations/pending", list([item]));
    f.on("GET", "/api/hitl/escalations/e_1", { body: item });
    f.on("POST", "/api/hitl/escalations/e_1/claim", {
      status: 409,
      body: { error: "conflict", detail: "claimed by kim", escalation: { ...item, status: "claimed", claimed_by: "kim" } },
    });
    renderApp("/review/e_1");
    const panel = await screen.findByTestId("escalation-panel");
    await userEvent.setup().click(within(panel).getByRole("button", { name: "Claim" }));
    expect(await within(panel).findByText(/kim claimed this escalation first/)).toBeInTheDocument();
    // The panel and the queue now show who holds it.
    expect(within(panel).getByText("Claimed by kim")).toBeInTheDocument();
    expect(within(panel).getByRole("button", { name: "Take over" })).toBeInTheDocument();
  });

  it("refuses an empty reply before sending", async () => {
    const f = fakeApi();
    const item = esc({ status: "claimed", claimed_by: "sam" });
    f.on("GET", "/api/hitl/escalations/pending", list([item]));
    f.on("GET", "/api/hitl/escalations/e_1", { body: item });
    renderApp("/review/e_1");
    const panel = await screen.findByTestId("escalation-panel");
    const user = userEvent.setup();
    await user.click(within(panel).getByRole("radio", { name: /Reject/ }));
    await user.click(within(panel).getByRole("button", { name: "Reject draft and send" }));
    expect(within(panel).getByText("Write the reply the customer will receive.")).toBeInTheDocument();
    expect(f.calls.filter((c) => c.method === "POST")).toHaveLength(0);
  });
});
