"""What happens in conversations, told to the layers above (the API's webhooks) without chat importing them.

Each signal is sent once the change is stored (inside the caller's transaction when there is
one: a receiver that queues work does it with `transaction.on_commit`). A receiver must be cheap
and must not raise: the chat's hot path sends `messages_stored` for every batch.
"""

from django.dispatch import Signal

# kwargs: conversation (Conversation), a new one (not a resumed one).
conversation_started = Signal()
# kwargs: messages (list[Message]), new messages of any sender, in the order stored.
messages_stored = Signal()
# kwargs: conversation (Conversation), reason (str); a chat starts waiting for a person.
handoff_requested = Signal()
# kwargs: conversation_id (int), agent (User); an agent took the chat.
agent_joined = Signal()
# kwargs: conversation_id (int), resolution (str).
conversation_closed = Signal()
# kwargs: rating (Rating); the customer rated the conversation.
rating_created = Signal()
