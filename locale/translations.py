"""The chat's customer-facing strings in German, French and Spanish: `make messages` writes them into
the .po files (after makemessages collected the msgids) and compiles the .mo files.

A msgid missing here stays untranslated (English) and `make messages` lists it.
"""

import re
import sys
from pathlib import Path

LANGUAGES = ("de", "fr", "es")
ENTRY = re.compile(r'^(?P<head>(?:#.*\n)*)msgid (?P<id>(?:".*"\n)+)msgstr (?P<str>(?:".*"\n?)+)', re.M)

T: dict[str, dict[str, str]] = {
    # Server: handoff notices, business hours, mail, the bot's own words.
    "Our team is away right now; a person will be back %(when)s.": {
        "de": "Unser Team ist gerade nicht da; ab %(when)s ist wieder jemand für Sie da.",
        "fr": "Notre équipe est absente pour le moment ; quelqu'un sera de retour %(when)s.",
        "es": "Nuestro equipo no está disponible ahora; alguien volverá %(when)s.",
    },
    "No agent is online right now, so nobody can join this chat at the moment.": {
        "de": "Gerade ist kein Mitarbeiter online, daher kann im Moment niemand diesem Chat beitreten.",
        "fr": "Aucun conseiller n'est en ligne pour le moment, personne ne peut donc rejoindre cette conversation.",
        "es": "Ahora mismo no hay ningún agente conectado, así que nadie puede unirse a este chat por el momento.",
    },
    "Leave your email and a person will get back to you. Meanwhile I'll keep answering what I can.": {
        "de": "Hinterlassen Sie Ihre E-Mail-Adresse, dann meldet sich jemand bei Ihnen. Bis dahin beantworte ich, was ich kann.",
        "fr": "Laissez votre e-mail et quelqu'un vous répondra. En attendant, je continue de répondre à ce que je peux.",
        "es": "Deje su correo electrónico y una persona le responderá. Mientras tanto, seguiré respondiendo lo que pueda.",
    },
    "You're still in the queue (number %(position)s); an agent will join shortly. Meanwhile I'll keep answering what I can.": {
        "de": "Sie sind weiterhin in der Warteschlange (Nummer %(position)s); gleich ist jemand für Sie da. Bis dahin beantworte ich, was ich kann.",
        "fr": "Vous êtes toujours dans la file d'attente (numéro %(position)s) ; un conseiller va bientôt vous rejoindre. En attendant, je continue de répondre à ce que je peux.",
        "es": "Sigue en la cola (número %(position)s); un agente se unirá en breve. Mientras tanto, seguiré respondiendo lo que pueda.",
    },
    "I'm connecting you with a person. You are number %(position)s in the queue; stay here and an agent will join shortly. Meanwhile I'll keep answering what I can.": {
        "de": "Ich verbinde Sie mit einem Menschen. Sie sind Nummer %(position)s in der Warteschlange; bleiben Sie hier, gleich ist jemand für Sie da. Bis dahin beantworte ich, was ich kann.",
        "fr": "Je vous mets en relation avec une personne. Vous êtes numéro %(position)s dans la file d'attente ; restez ici, un conseiller va bientôt vous rejoindre. En attendant, je continue de répondre à ce que je peux.",
        "es": "Le estoy poniendo en contacto con una persona. Es el número %(position)s en la cola; quédese aquí y un agente se unirá en breve. Mientras tanto, seguiré respondiendo lo que pueda.",
    },
    "You're chatting with the bot again. Ask for a person any time.": {
        "de": "Sie chatten wieder mit dem Bot. Sie können jederzeit nach einem Menschen fragen.",
        "fr": "Vous discutez de nouveau avec le bot. Vous pouvez demander une personne à tout moment.",
        "es": "Vuelve a hablar con el bot. Puede pedir una persona en cualquier momento.",
    },
    "Thanks, we'll reply to your email.": {
        "de": "Danke, wir antworten Ihnen per E-Mail.",
        "fr": "Merci, nous vous répondrons par e-mail.",
        "es": "Gracias, le responderemos por correo electrónico.",
    },
    "Nobody could join in time, so the team will answer your messages by email (%(email)s). I'm still here for anything I can answer.": {
        "de": "Leider konnte niemand rechtzeitig beitreten; das Team beantwortet Ihre Nachrichten per E-Mail (%(email)s). Ich bin weiter für alles da, was ich beantworten kann.",
        "fr": "Personne n'a pu rejoindre la conversation à temps ; l'équipe répondra à vos messages par e-mail (%(email)s). Je reste là pour tout ce à quoi je peux répondre.",
        "es": "Nadie pudo unirse a tiempo, así que el equipo responderá a sus mensajes por correo electrónico (%(email)s). Sigo aquí para todo lo que pueda responder.",
    },
    "Nobody could join in time. Leave your email and the team will answer your messages there. I'm still here for anything I can answer.": {
        "de": "Leider konnte niemand rechtzeitig beitreten. Hinterlassen Sie Ihre E-Mail-Adresse, dann beantwortet das Team Ihre Nachrichten dort. Ich bin weiter für alles da, was ich beantworten kann.",
        "fr": "Personne n'a pu rejoindre la conversation à temps. Laissez votre e-mail et l'équipe y répondra à vos messages. Je reste là pour tout ce à quoi je peux répondre.",
        "es": "Nadie pudo unirse a tiempo. Deje su correo electrónico y el equipo responderá allí a sus mensajes. Sigo aquí para todo lo que pueda responder.",
    },
    "%(name)s joined the chat.": {
        "de": "%(name)s ist dem Chat beigetreten.",
        "fr": "%(name)s a rejoint la conversation.",
        "es": "%(name)s se ha unido al chat.",
    },
    "This conversation was closed. Thank you!": {
        "de": "Dieses Gespräch wurde beendet. Vielen Dank!",
        "fr": "Cette conversation est terminée. Merci !",
        "es": "Esta conversación se ha cerrado. ¡Gracias!",
    },
    "The agent got disconnected. You're back in the queue; the next available agent will join.": {
        "de": "Die Verbindung zum Mitarbeiter ist abgebrochen. Sie sind wieder in der Warteschlange; der nächste freie Mitarbeiter übernimmt.",
        "fr": "Le conseiller a été déconnecté. Vous êtes de nouveau dans la file d'attente ; le prochain conseiller disponible vous rejoindra.",
        "es": "El agente se ha desconectado. Vuelve a estar en la cola; se unirá el próximo agente disponible.",
    },
    "today at %(time)s": {"de": "heute um %(time)s Uhr", "fr": "aujourd'hui à %(time)s", "es": "hoy a las %(time)s"},
    "tomorrow at %(time)s": {"de": "morgen um %(time)s Uhr", "fr": "demain à %(time)s", "es": "mañana a las %(time)s"},
    "%(day)s at %(time)s": {"de": "%(day)s um %(time)s Uhr", "fr": "%(day)s à %(time)s", "es": "el %(day)s a las %(time)s"},
    "%(when)s (%(zone)s time)": {"de": "%(when)s (Zeitzone %(zone)s)", "fr": "%(when)s (heure de %(zone)s)",
                                 "es": "%(when)s (hora de %(zone)s)"},
    "You": {"de": "Sie", "fr": "Vous", "es": "Usted"},
    "Assistant": {"de": "Assistent", "fr": "Assistant", "es": "Asistente"},
    "Agent": {"de": "Mitarbeiter", "fr": "Conseiller", "es": "Agente"},
    "Notice": {"de": "Hinweis", "fr": "Information", "es": "Aviso"},
    "Your conversation with %(site)s": {"de": "Ihr Gespräch mit %(site)s", "fr": "Votre conversation avec %(site)s",
                                        "es": "Su conversación con %(site)s"},
    "Here is your conversation with %(site)s.": {"de": "Hier ist Ihr Gespräch mit %(site)s.",
                                                 "fr": "Voici votre conversation avec %(site)s.",
                                                 "es": "Aquí tiene su conversación con %(site)s."},
    "Talk to a person": {"de": "Mit einem Menschen sprechen", "fr": "Parler à une personne", "es": "Hablar con una persona"},
    "Sorry, I'm not sure I can help with that. Could you rephrase it? If you prefer, I can connect you with a person.": {
        "de": "Entschuldigung, dabei kann ich vermutlich nicht helfen. Können Sie es anders formulieren? Wenn Sie möchten, verbinde ich Sie mit einem Menschen.",
        "fr": "Désolé, je ne suis pas sûr de pouvoir vous aider. Pourriez-vous reformuler ? Si vous préférez, je peux vous mettre en relation avec une personne.",
        "es": "Lo siento, no estoy seguro de poder ayudarle con eso. ¿Podría reformularlo? Si lo prefiere, puedo ponerle en contacto con una persona.",
    },
    "Sorry, I can't answer that myself. A person will see your message when they take the chat.": {
        "de": "Entschuldigung, das kann ich selbst nicht beantworten. Ein Mensch sieht Ihre Nachricht, sobald er den Chat übernimmt.",
        "fr": "Désolé, je ne peux pas répondre moi-même. Une personne verra votre message en reprenant la conversation.",
        "es": "Lo siento, no puedo responder a eso. Una persona verá su mensaje cuando atienda el chat.",
    },
    "I'm sorry this is frustrating. Would you like me to connect you with a person?": {
        "de": "Es tut mir leid, dass das ärgerlich ist. Möchten Sie, dass ich Sie mit einem Menschen verbinde?",
        "fr": "Je suis désolé que ce soit frustrant. Voulez-vous que je vous mette en relation avec une personne ?",
        "es": "Siento que esto sea frustrante. ¿Quiere que le ponga en contacto con una persona?",
    },
    "I'm not completely sure what you mean. Did you mean one of these?": {
        "de": "Ich bin nicht ganz sicher, was Sie meinen. Meinten Sie eines davon?",
        "fr": "Je ne suis pas certain de comprendre. Vouliez-vous dire l'un de ces sujets ?",
        "es": "No estoy del todo seguro de lo que quiere decir. ¿Se refería a uno de estos?",
    },
    "Could you tell me a bit more? Here are some things I can help with:": {
        "de": "Können Sie mir etwas mehr dazu sagen? Dabei kann ich zum Beispiel helfen:",
        "fr": "Pourriez-vous m'en dire un peu plus ? Voici quelques sujets sur lesquels je peux aider :",
        "es": "¿Podría contarme un poco más? Estas son algunas cosas en las que puedo ayudar:",
    },
    "A customer with a similar question was helped with this:": {
        "de": "Einem Kunden mit einer ähnlichen Frage hat das geholfen:",
        "fr": "Un client ayant une question similaire a été aidé ainsi :",
        "es": "A un cliente con una pregunta parecida le ayudó esto:",
    },
    "Chat with %(name)s": {"de": "Chat mit %(name)s", "fr": "Discuter avec %(name)s", "es": "Chat con %(name)s"},
    "The chat needs JavaScript.": {"de": "Der Chat benötigt JavaScript.", "fr": "Le chat nécessite JavaScript.",
                                   "es": "El chat necesita JavaScript."},
    # The widget (JavaScript catalog).
    "Open chat": {"de": "Chat öffnen", "fr": "Ouvrir le chat", "es": "Abrir el chat"},
    "Open chat, %(count)s unread message": {"de": "Chat öffnen, %(count)s ungelesene Nachricht",
                                            "fr": "Ouvrir le chat, %(count)s message non lu",
                                            "es": "Abrir el chat, %(count)s mensaje sin leer"},
    "Open chat, %(count)s unread messages": {"de": "Chat öffnen, %(count)s ungelesene Nachrichten",
                                             "fr": "Ouvrir le chat, %(count)s messages non lus",
                                             "es": "Abrir el chat, %(count)s mensajes sin leer"},
    "Stop waiting and chat with the bot": {"de": "Nicht mehr warten und mit dem Bot chatten",
                                           "fr": "Ne plus attendre et discuter avec le bot",
                                           "es": "Dejar de esperar y hablar con el bot"},
    "Start a new conversation": {"de": "Neues Gespräch beginnen", "fr": "Commencer une nouvelle conversation",
                                 "es": "Empezar una conversación nueva"},
    "New chat": {"de": "Neuer Chat", "fr": "Nouvelle discussion", "es": "Chat nuevo"},
    "Start a new conversation?": {"de": "Ein neues Gespräch beginnen?", "fr": "Commencer une nouvelle conversation ?",
                                  "es": "¿Empezar una conversación nueva?"},
    "Start a new conversation? This one will be cleared from this window.": {
        "de": "Ein neues Gespräch beginnen? Dieses wird aus dem Fenster entfernt.",
        "fr": "Commencer une nouvelle conversation ? Celle-ci disparaîtra de cette fenêtre.",
        "es": "¿Empezar una conversación nueva? Esta se borrará de la ventana.",
    },
    "Start new conversation": {"de": "Neues Gespräch beginnen", "fr": "Nouvelle conversation", "es": "Empezar conversación nueva"},
    "Keep this one": {"de": "Dieses behalten", "fr": "Garder celle-ci", "es": "Mantener esta"},
    "This conversation has ended.": {"de": "Dieses Gespräch ist beendet.", "fr": "Cette conversation est terminée.",
                                     "es": "Esta conversación ha terminado."},
    "Close chat": {"de": "Chat schließen", "fr": "Fermer le chat", "es": "Cerrar el chat"},
    "Message": {"de": "Nachricht", "fr": "Message", "es": "Mensaje"},
    "Write a message…": {"de": "Nachricht schreiben…", "fr": "Écrivez un message…", "es": "Escriba un mensaje…"},
    "Send": {"de": "Senden", "fr": "Envoyer", "es": "Enviar"},
    "This chat is not available here.": {"de": "Dieser Chat ist hier nicht verfügbar.",
                                         "fr": "Ce chat n'est pas disponible ici.", "es": "Este chat no está disponible aquí."},
    "You're sending messages quickly: the rest will follow in a moment.": {
        "de": "Sie senden sehr schnell: Der Rest folgt gleich.",
        "fr": "Vous envoyez des messages rapidement : la suite partira dans un instant.",
        "es": "Está enviando mensajes muy rápido: el resto se enviará en un momento.",
    },
    "No one is available right now": {"de": "Gerade ist niemand erreichbar", "fr": "Personne n'est disponible pour le moment",
                                      "es": "Ahora mismo no hay nadie disponible"},
    "Leave your email and we'll reply there.": {"de": "Hinterlassen Sie Ihre E-Mail-Adresse, wir antworten dorthin.",
                                                "fr": "Laissez votre e-mail, nous vous y répondrons.",
                                                "es": "Deje su correo electrónico y le responderemos allí."},
    "Save email": {"de": "E-Mail speichern", "fr": "Enregistrer l'e-mail", "es": "Guardar correo"},
    "Enter your email address.": {"de": "Geben Sie Ihre E-Mail-Adresse ein.", "fr": "Saisissez votre adresse e-mail.",
                                  "es": "Introduzca su correo electrónico."},
    "Not connected: try again in a moment.": {"de": "Keine Verbindung: Versuchen Sie es gleich noch einmal.",
                                              "fr": "Pas de connexion : réessayez dans un instant.",
                                              "es": "Sin conexión: inténtelo de nuevo en un momento."},
    "Email me a copy of this chat": {"de": "Kopie dieses Chats per E-Mail senden", "fr": "M'envoyer une copie de cette discussion",
                                     "es": "Enviarme una copia de este chat"},
    "Thanks! We'll reply to %(address)s.": {"de": "Danke! Wir antworten an %(address)s.", "fr": "Merci ! Nous répondrons à %(address)s.",
                                            "es": "¡Gracias! Responderemos a %(address)s."},
    "Thanks! We'll reply by email.": {"de": "Danke! Wir antworten per E-Mail.", "fr": "Merci ! Nous répondrons par e-mail.",
                                      "es": "¡Gracias! Le responderemos por correo electrónico."},
    "A copy of this chat is on its way.": {"de": "Eine Kopie dieses Chats ist unterwegs.", "fr": "Une copie de cette discussion est en route.",
                                           "es": "Una copia de este chat está en camino."},
    "Conversation": {"de": "Gespräch", "fr": "Conversation", "es": "Conversación"},
    "Suggested replies": {"de": "Antwortvorschläge", "fr": "Réponses suggérées", "es": "Respuestas sugeridas"},
    "%(name)s (agent)": {"de": "%(name)s (Mitarbeiter)", "fr": "%(name)s (conseiller)", "es": "%(name)s (agente)"},
    "Was this answer helpful?": {"de": "War diese Antwort hilfreich?", "fr": "Cette réponse vous a-t-elle aidé ?",
                                 "es": "¿Le ha sido útil esta respuesta?"},
    "Helpful": {"de": "Hilfreich", "fr": "Utile", "es": "Útil"},
    "Not helpful": {"de": "Nicht hilfreich", "fr": "Pas utile", "es": "No útil"},
    "Not sent: %(reason)s": {"de": "Nicht gesendet: %(reason)s", "fr": "Non envoyé : %(reason)s", "es": "No enviado: %(reason)s"},
    "Assistant is typing": {"de": "Der Assistent schreibt", "fr": "L'assistant écrit", "es": "El asistente está escribiendo"},
    "%(name)s is typing": {"de": "%(name)s schreibt", "fr": "%(name)s écrit", "es": "%(name)s está escribiendo"},
    "The agent": {"de": "Der Mitarbeiter", "fr": "Le conseiller", "es": "El agente"},
    "Replies instantly": {"de": "Antwortet sofort", "fr": "Répond immédiatement", "es": "Responde al instante"},
    "Waiting for an agent…": {"de": "Warten auf einen Mitarbeiter…", "fr": "En attente d'un conseiller…", "es": "Esperando a un agente…"},
    "The team will reply by email": {"de": "Das Team antwortet per E-Mail", "fr": "L'équipe répondra par e-mail",
                                     "es": "El equipo responderá por correo electrónico"},
    "You're chatting with a person": {"de": "Sie chatten mit einem Menschen", "fr": "Vous discutez avec une personne",
                                      "es": "Está hablando con una persona"},
    "This conversation is closed": {"de": "Dieses Gespräch ist beendet", "fr": "Cette conversation est terminée",
                                    "es": "Esta conversación está cerrada"},
    "You're chatting with %(name)s": {"de": "Sie chatten mit %(name)s", "fr": "Vous discutez avec %(name)s",
                                      "es": "Está hablando con %(name)s"},
    "Connection lost. Reconnecting…": {"de": "Verbindung verloren. Verbinde neu…", "fr": "Connexion perdue. Reconnexion…",
                                       "es": "Conexión perdida. Reconectando…"},
    "Very poor": {"de": "Sehr schlecht", "fr": "Très mauvais", "es": "Muy mala"},
    "Poor": {"de": "Schlecht", "fr": "Mauvais", "es": "Mala"},
    "OK": {"de": "In Ordnung", "fr": "Correct", "es": "Normal"},
    "Good": {"de": "Gut", "fr": "Bien", "es": "Buena"},
    "Excellent": {"de": "Ausgezeichnet", "fr": "Excellent", "es": "Excelente"},
    "%(score)s of 5: %(label)s": {"de": "%(score)s von 5: %(label)s", "fr": "%(score)s sur 5 : %(label)s", "es": "%(score)s de 5: %(label)s"},
    "How was this chat?": {"de": "Wie war dieser Chat?", "fr": "Comment s'est passée cette discussion ?", "es": "¿Qué tal ha ido este chat?"},
    "Send rating": {"de": "Bewertung senden", "fr": "Envoyer la note", "es": "Enviar valoración"},
    "Not now": {"de": "Nicht jetzt", "fr": "Pas maintenant", "es": "Ahora no"},
    "Pick from 1 to 5 stars.": {"de": "Wählen Sie 1 bis 5 Sterne.", "fr": "Choisissez de 1 à 5 étoiles.", "es": "Elija de 1 a 5 estrellas."},
    "Thanks for your rating!": {"de": "Danke für Ihre Bewertung!", "fr": "Merci pour votre note !", "es": "¡Gracias por su valoración!"},
    "What were you looking for?": {"de": "Wonach haben Sie gesucht?", "fr": "Que cherchiez-vous ?", "es": "¿Qué estaba buscando?"},
    "Thanks: we'll use this to improve.": {"de": "Danke: Das hilft uns, besser zu werden.", "fr": "Merci : cela nous aidera à nous améliorer.",
                                           "es": "Gracias: lo usaremos para mejorar."},
    "Sorry that did not help": {"de": "Schade, dass das nicht geholfen hat", "fr": "Désolé que cela n'ait pas aidé",
                                "es": "Siento que no le haya ayudado"},
    "Sorry that didn't help.": {"de": "Schade, dass das nicht geholfen hat.", "fr": "Désolé que cela n'ait pas aidé.",
                                "es": "Siento que no le haya ayudado."},
    "Tell us what was missing": {"de": "Sagen Sie uns, was gefehlt hat", "fr": "Dites-nous ce qui manquait",
                                 "es": "Díganos qué faltaba"},
}


def _unquote(block: str) -> str:
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', block)
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), "".join(parts))


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def fill(locale_dir: Path) -> list[str]:
    """Write the translations into every .po file under locale_dir; return the msgids left untranslated."""
    missing = []
    for language in LANGUAGES:
        for po in sorted((locale_dir / language / "LC_MESSAGES").glob("*.po")):
            text = po.read_text(encoding="utf-8")

            def replace(match: re.Match[str], language: str = language, po: Path = po) -> str:
                msgid = _unquote(match["id"])
                if not msgid:
                    return match.group(0)  # the header
                translated = T.get(msgid, {}).get(language)
                if translated is None:
                    missing.append(f"{po}: {msgid}")
                    return match.group(0)
                head = match["head"].replace("#, fuzzy, ", "#, ").replace("#, fuzzy\n", "")
                return f"{head}msgid {match['id']}msgstr {_quote(translated)}\n"

            po.write_text(ENTRY.sub(replace, text), encoding="utf-8")
    return missing


if __name__ == "__main__":
    left = fill(Path(__file__).resolve().parent)
    for line in left:
        print(f"untranslated: {line}", file=sys.stderr)
    sys.exit(1 if left else 0)
