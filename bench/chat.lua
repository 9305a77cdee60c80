-- The guest chats every chat benchmark posts (wrk -s bench/chat.lua):
-- six customer messages in turn, each the first of a new conversation.
local msgs = {
  '{"message":"where is my order?"}',
  '{"message":"I want a refund for my blender"}',
  '{"message":"my card was charged twice"}',
  '{"message":"the app crashes on login"}',
  '{"message":"hello"}',
  '{"message":"how long does delivery to Germany take?"}',
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/api/chat", {["Content-Type"] = "application/json"}, msgs[(i % #msgs) + 1])
end
