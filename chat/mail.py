"""Mail about conversations: the team hears of offline messages and of emails customers leave;
a customer gets the transcript of their chat. Sent by the Celery worker (chat/tasks.py), queued
once the change that calls for it has committed.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _, override

from chat.models import Conversation, Message
from knowledge.markup import answer_text

OFFLINE = "offline"  # a chat that waited for nobody became an offline message
EMAIL_LEFT = "email"  # a customer left their email for the team
KINDS = (OFFLINE, EMAIL_LEFT)
# A transcript goes only to the email the customer left, and at most this often per chat:
# the socket must not become a way to send mail to anyone, or a lot of it.
TRANSCRIPT_EVERY = timedelta(minutes=5)


def enqueue_team_notification(conversation_id: int, kind: str) -> None:
    from chat import tasks

    transaction.on_commit(lambda: tasks.notify_team.delay(conversation_id, kind))


def enqueue_transcript(conversation_id: int) -> None:
    from chat import tasks

    transaction.on_commit(lambda: tasks.send_transcript.delay(conversation_id))


def request_transcript(conversation_id: int) -> str:
    """Queue the transcript for the customer: "queued", "no_email" or "too_soon"."""
    now = timezone.now()
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update(of=("self",)).select_related("visitor").get(
            pk=conversation_id)
        if not conversation.visitor.email:
            return "no_email"
        if conversation.transcript_sent and now - conversation.transcript_sent < TRANSCRIPT_EVERY:
            return "too_soon"
        Conversation.objects.filter(pk=conversation_id).update(transcript_sent=now)
        enqueue_transcript(conversation_id)
    return "queued"


def transcript(conversation: Conversation) -> str:
    """The conversation as plain text, one message a paragraph, times in the site's time zone."""
    labels: dict[str, str] = {
        Message.Sender.CUSTOMER: _("You"),
        Message.Sender.BOT: _("Assistant"),
        Message.Sender.AGENT: _("Agent"),
        Message.Sender.SYSTEM: _("Notice"),
    }
    zone = ZoneInfo(conversation.site.time_zone)
    lines = []
    for message in conversation.messages.select_related("agent").order_by("seq"):
        who = labels.get(message.sender, message.sender)
        if message.sender == Message.Sender.AGENT and message.agent is not None:
            who = message.agent.get_short_name() or message.agent.get_username()
        text = answer_text(message.text) if message.source == Message.Source.ANSWER else message.text
        lines.append(f"[{timezone.localtime(message.created, zone):%Y-%m-%d %H:%M}] {who}: {text}")
    return "\n\n".join(lines)


def notify_team(conversation_id: int, kind: str) -> bool:
    """Tell the site's team about an offline message or an email left; False when there is no team address."""
    conversation = Conversation.objects.select_related("site", "visitor").get(pk=conversation_id)
    site, visitor = conversation.site, conversation.visitor
    if not site.team_email or kind not in KINDS:
        return False
    question = (
        conversation.messages.filter(sender=Message.Sender.CUSTOMER).order_by("-seq")
        .values_list("text", flat=True).first() or ""
    )
    if kind == OFFLINE:
        subject = f"Offline message on {site.name}: {_one_line(question)}"
        lead = "Nobody could take this chat in time: the customer waits for an answer by email."
    else:
        subject = f"{visitor.email} left their email on {site.name}"
        lead = f"The customer left their email ({visitor.email}) and waits for a reply there."
    facts = [
        f"Customer: {visitor.name or '-'} <{visitor.email or 'no email left yet'}>",
        f"Page: {conversation.page or '-'}",
        f"Console: {settings.CHAT_PUBLIC_URL}/agent/#{conversation.public_id}",
    ]
    with override("en"):
        body = "\n".join([lead, "", *facts, "", "Conversation:", "", transcript(conversation)])
    EmailMessage(subject, body, to=[site.team_email], reply_to=[visitor.email] if visitor.email else None).send()
    return True


def send_transcript(conversation_id: int) -> bool:
    """Mail the conversation to the customer's email; False when they left none."""
    conversation = Conversation.objects.select_related("site", "visitor").get(pk=conversation_id)
    if not conversation.visitor.email:
        return False
    with override(conversation.site.language):
        subject = _("Your conversation with %(site)s") % {"site": conversation.site.name}
        body = "\n\n".join([_("Here is your conversation with %(site)s.") % {"site": conversation.site.name},
                            transcript(conversation)])
    reply_to = [conversation.site.team_email] if conversation.site.team_email else None
    EmailMessage(subject, body, to=[conversation.visitor.email], reply_to=reply_to).send()
    return True


def _one_line(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
