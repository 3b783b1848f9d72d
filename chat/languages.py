"""Which language a customer message is written in, when that is clear from its words.

The bot is trained on one language per site (Site.language); a message in another gets an
honest reply instead of a guess. Short chat messages defeat statistical detectors (a single
"hola" or "ok" says little), so this asks for positive evidence: at least MIN_WORDS common
function or shop words of one language, more than of the site's own, with a few spelling
marks (¿, ß, ç ...) counting as one word each. Deterministic, no model, no dependency.
"""

from __future__ import annotations

import re

MIN_WORDS = 2
WORD = re.compile(r"[^\W\d_]+")

# Words that are frequent in customer messages of each language and are not English words
# (so "in", "was", "die", "me", "a" are left out everywhere).
WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the my i you your to and of for it how what where when can do does with have has not this that "
        "please order is are was be an a on in at from get why there will would could should me we our "
        "hi hello thanks thank yes no just still want need".split()
    ),
    "es": frozenset(
        "el la los las un una unos es está están mi mis tu su sus de del que qué por para con sin como cómo "
        "dónde donde cuándo cuanto cuánto cuánta tarda hola gracias quiero necesito puedo pedido pedidos "
        "envío envio entrega devolver devolución reembolso ayuda compra pagar llegó roto tienen hay "
        "código descuento funciona también pero muy".split()
    ),
    "de": frozenset(
        "der das ist ich mein meine meinen mir mich sie wir ihr und nicht ein eine einen kann können "
        "wo wie wann warum bitte danke hallo bestellung bestellungen lieferung paket stornieren "
        "zurückgeben rückgabe rechnung bezahlen passwort vergessen habe ist angekommen dauert nach "
        "mit für auf von zu kommt geld zurück".split()
    ),
    "fr": frozenset(
        "le la les un une des est je mon ma mes vous votre nous et ne pas pour avec dans sur du au aux "
        "où quand comment combien pourquoi bonjour merci commande colis livraison retourner retour "
        "remboursement annuler adresse payer coûte veux voudrais reçu arrivée arrivé puis peux "
        "est-ce ça qui que".split()
    ),
    "it": frozenset(
        "il lo gli le un una è sono mio mia miei io tu lei noi del della che non per con dove quando "
        "quanto perché ciao grazie ordine ordini spedizione consegna restituire reso rimborso pagare "
        "carta credito posso vorrei prodotto articolo si trova".split()
    ),
    "nl": frozenset(
        "de het een ik mijn je jij uw wij niet en van voor met waar wanneer hoe hoeveel waarom hallo "
        "bedankt bestelling pakket verzending levering annuleren retourneren terugbetaling betalen "
        "kan kun wil duurt lang".split()
    ),
    "pt": frozenset(
        "o os um uma é minha meu meus você não para com onde quando quanto quanta tempo demora por "
        "olá obrigado obrigada encomenda pedido entrega envio devolver reembolso pagar está".split()
    ),
    "pl": frozenset(
        "jest moja mój moje gdzie kiedy jak ile dlaczego dzień dobry dziękuję zamówienie paczka przesyłka "
        "dostawa zwrot zwrócić płatność nie tak czy".split()
    ),
}
MARKS: dict[str, str] = {"es": "¿¡ñ", "de": "ßäöü", "fr": "çêèûâœ", "pt": "ãõ", "pl": "ąęłśżźćń"}


def detect(text: str, site_language: str = "en") -> str:
    """The message's language code when it is clearly not the site's, else the site's language."""
    lowered = text.lower()
    words = WORD.findall(lowered)
    own = WORDS.get(site_language, frozenset())
    own_score = sum(word in own for word in words)
    best, best_score = site_language, 0
    for language, vocabulary in WORDS.items():
        if language == site_language:
            continue
        score = sum(word in vocabulary for word in words)
        score += sum(mark in lowered for mark in MARKS.get(language, ""))
        if score > best_score:
            best, best_score = language, score
    if best_score >= MIN_WORDS and best_score > own_score:
        return best
    return site_language
