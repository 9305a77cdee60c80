// Which conversation the chat continues: one per browser for a guest
// (with the guest's conversation token) and one per signed-in user.

export interface SavedConversation {
  id: string;
  /** A guest's proof of ownership; absent for signed-in users. */
  token?: string;
}

const PREFIX = "support.conversation.";

export function conversationKey(userId: string | null | undefined): string {
  return PREFIX + (userId ?? "guest");
}

export function loadConversation(key: string): SavedConversation | null {
  try {
    const raw = localStorage.getItem(key);
    if (!raw) return null;
    const c = JSON.parse(raw) as SavedConversation;
    return typeof c.id === "string" && c.id ? c : null;
  } catch {
    return null;
  }
}

export function saveConversation(key: string, c: SavedConversation | null): void {
  if (c) localStorage.setItem(key, JSON.stringify(c));
  else localStorage.removeItem(key);
}
