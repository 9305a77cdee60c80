import { beforeEach, describe, expect, it } from "vitest";
import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { FakeEventSource, fakeApi, installFakeEventSource, makeUser, renderApp, signIn } from "../test/helpers";

function chatReply(over: Record<string, unknown> = {}) {
  return {
    response: "Refunds take 5 to 7 days.",
    intent: "refund",
    confidence: 0.91,
    agent_type: "support_agent",
    escalated: false,
    timestamp: "2025-01-01T10:00:00Z",
    conversation_id: "c_1",
    message_id: "m_2",
    ...over,
  };
}

beforeEach(() => installFakeEventSource());

describe("chat", () => {
  it("sends on Enter, shows the typing indicator, then the answer with its intent", async () => {
    const f = fakeApi();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    f.on("POST", "/api/chat", async () => {
      await gate;
      return { body: chatReply({ conversation_token: "g".repeat(64) }) };
    });
    renderApp("/chat");
    expect(screen.getByText(/chatting as a guest/)).toBeInTheDocument();
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Your message"), "how long does a refund take?{Enter}");
    expect(await screen.findByTestId("typing")).toBeInTheDocument();
    expect(screen.getByLabelText("Your message")).toHaveValue("");
    release();
    expect(await screen.findByText("Refunds take 5 to 7 days.")).toBeInTheDocument();
    expect(screen.queryByTestId("typing")).not.toBeInTheDocument();
    expect(screen.getByTestId("intent")).toHaveTextContent("Refund · 91%");
    expect(f.calls[0].body).toEqual({ message: "how long does a refund take?" });
    // The guest's conversation is kept with its token for the next message.
    expect(JSON.parse(localStorage.getItem("support.conversation.guest")!)).toEqual({
      id: "c_1",
      token: "g".repeat(64),
    });
  });

  it("Shift+Enter makes a new line instead of sending", async () => {
    const f = fakeApi();
    renderApp("/chat");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Your message"), "line one{Shift>}{Enter}{/Shift}line two");
    expect(screen.getByLabelText("Your message")).toHaveValue("line one\nline two");
    expect(f.calls.filter((c) => c.path === "/api/chat")).toHaveLength(0);
  });

  it("shows the escalation banner and the human's reply arriving live", async () => {
    const f = fakeApi();
    signIn(makeUser("user", "carol"), "tok-carol");
    f.on("POST", "/api/chat", {
      body: chatReply({
        response: "Thanks for your message. A member of our support team will answer you here shortly.",
        intent: "complaint",
        agent_type: "escalation",
        escalated: true,
        escalation_reason: "policy_complaint",
      }),
    });
    f.on("GET", "/api/chat/history", ({ url }) => ({
      body: {
        conversation_id: url.searchParams.get("conversation_id"),
        status: "human",
        messages: [
          { id: "m_1", role: "user", text: "I want to speak to a manager" },
          { id: "m_2", role: "assistant", text: "Thanks for your message. A member of our support team will answer you here shortly." },
        ],
      },
    }));
    renderApp("/chat");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Your message"), "I want to speak to a manager{Enter}");
    expect(await screen.findByTestId("escalation-banner")).toHaveTextContent(
      "A member of our support team has been asked to help",
    );
    const es = FakeEventSource.latest("/api/chat/stream")!;
    expect(es.url).toContain("conversation_id=c_1");
    expect(es.url).toContain("access_token=tok-carol");
    act(() => es.open());
    act(() =>
      es.emit("message", {
        role: "agent",
        text: "So sorry! A replacement ships today.",
        conversation_id: "c_1",
        timestamp: "2025-01-01T10:05:00Z",
        handed_back: true,
      }),
    );
    expect(await screen.findByText("So sorry! A replacement ships today.")).toBeInTheDocument();
    expect(screen.getAllByTestId("msg-agent")[0]).toHaveTextContent("Support team");
    await waitFor(() => expect(screen.queryByTestId("escalation-banner")).not.toBeInTheDocument());
  });

  it("explains a rate limit and counts down before the next send", async () => {
    const f = fakeApi();
    f.on("POST", "/api/chat", {
      status: 429,
      body: { error: "rate_limited", detail: "too many messages" },
      headers: { "Retry-After": "30" },
    });
    renderApp("/chat");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Your message"), "hello{Enter}");
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "You're sending requests too quickly. Please try again in 30 seconds.",
    );
    expect(screen.getByRole("button", { name: "Send message" })).toBeDisabled();
    expect(screen.getByRole("button", { name: "Send message" })).toHaveTextContent(/Wait \d+s/);
    expect(screen.getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });

  it("restores the conversation after a reload, history first", async () => {
    const f = fakeApi();
    localStorage.setItem("support.conversation.guest", JSON.stringify({ id: "c_9", token: "t".repeat(64) }));
    f.on("GET", "/api/chat/history", {
      body: {
        conversation_id: "c_9",
        status: "ai",
        messages: [
          { id: "a", role: "user", text: "where is my parcel" },
          { id: "b", role: "assistant", text: "It is on its way.", intent: "question" },
        ],
      },
    });
    renderApp("/chat");
    expect(await screen.findByText("It is on its way.")).toBeInTheDocument();
    const q = f.calls.find((c) => c.path === "/api/chat/history")!.query;
    expect(q.get("conversation_token")).toBe("t".repeat(64));
    expect(screen.queryByTestId("escalation-banner")).not.toBeInTheDocument();
  });

  it("keeps a message the server saved when the human queue is down", async () => {
    const f = fakeApi();
    f.on("POST", "/api/chat", {
      status: 503,
      body: { error: "escalation_unavailable", detail: "a person must answer this" },
      headers: { "Retry-After": "5" },
    });
    renderApp("/chat");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Your message"), "I want a refund now{Enter}");
    expect(await screen.findByRole("alert")).toHaveTextContent(/message is saved/);
    expect(screen.queryByRole("button", { name: "Try again" })).not.toBeInTheDocument();
  });
});
