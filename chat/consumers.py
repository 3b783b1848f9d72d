class ChatConsumer: pass
