"""A seed-equivalent chat endpoint, for bench/compare.sh only.

What the seed's POST /api/chat did, without its LLM: a keyword intent, a
canned answer, the conversation's history read (find by conversation_id,
sorted by time, limit 10), then the user's message and the reply written to
the `messages` collection through Motor, and the seed's answer shape. It
uses the store and database the suite uses (MONGO_URI, MONGO_DB).

    SEED_VENV/bin/uvicorn --app-dir bench/seed app:app --workers 2 ...
"""

import os
import uuid
from datetime import datetime, timezone
from typing import Optional

from fastapi import FastAPI, HTTPException
from motor.motor_asyncio import AsyncIOMotorClient
from pydantic import BaseModel

KEYWORDS = [
    ("order_status", ("order", "delivery", "shipping", "track", "ship")),
    ("refund", ("refund", "money back", "return")),
    ("billing", ("charged", "charge", "invoice", "payment", "card", "bill")),
    ("technical_support", ("crash", "error", "bug", "login", "app")),
    ("complaint", ("terrible", "angry", "complaint", "worst", "manager")),
]
ANSWERS = {
    "order_status": "Orders usually arrive within 3-5 business days; you can "
    "track yours from the link in your confirmation email.",
    "refund": "Refunds are issued to the original payment method within "
    "5-7 business days after we receive the item.",
    "billing": "I can help with billing. A double charge is usually a "
    "pending authorisation that disappears within 3 days.",
    "technical_support": "Please update the app to the latest version and "
    "restart it; if it still fails, send us the error message.",
    "complaint": "I am sorry to hear that. I am passing this to a member "
    "of our team who will get back to you.",
    "general_inquiry": "Thanks for your message! How can I help you today?",
}
ESCALATE = {"complaint", "refund"}


class ChatRequest(BaseModel):
    message: str
    conversation_id: Optional[str] = None


class ChatResponse(BaseModel):
    response: str
    intent: str
    agent_type: str
    escalated: bool
    timestamp: str
    conversation_id: str


def classify(text: str) -> str:
    low = text.lower()
    for intent, words in KEYWORDS:
        if any(w in low for w in words):
            return intent
    return "general_inquiry"


app = FastAPI()
client = AsyncIOMotorClient(os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/"))
db = client[os.environ.get("MONGO_DB", "support")]


@app.post("/api/chat", response_model=ChatResponse)
async def chat(req: ChatRequest) -> ChatResponse:
    text = req.message.strip()
    if not text:
        raise HTTPException(status_code=400, detail="message is empty")
    conv = req.conversation_id or uuid.uuid4().hex
    history = (
        await db.messages.find({"conversation_id": conv})
        .sort("created_at", -1)
        .limit(10)
        .to_list(10)
    )
    intent = classify(text)
    escalated = intent in ESCALATE
    answer = ANSWERS[intent]
    if history and intent == "general_inquiry":
        answer = "Thanks, noted. " + answer
    now = datetime.now(timezone.utc)
    await db.messages.insert_one(
        {"conversation_id": conv, "role": "user", "text": text,
         "intent": intent, "created_at": now}
    )
    await db.messages.insert_one(
        {"conversation_id": conv, "role": "assistant", "text": answer,
         "agent_type": "escalation" if escalated else "support_agent",
         "created_at": now}
    )
    return ChatResponse(
        response=answer,
        intent=intent,
        agent_type="escalation" if escalated else "support_agent",
        escalated=escalated,
        timestamp=now.isoformat(),
        conversation_id=conv,
    )


@app.get("/api/health")
async def health() -> dict:
    await client.admin.command("ping")
    return {"status": "healthy"}
