"""The ticket-answer threshold, calibrated at build time from the scores of questions no ticket answers.

A nearest-ticket score means nothing on its own: its scale depends on the encoder and on how
many tickets, and how alike, the index holds (the more tickets, the higher the best score an
unrelated question finds). So each index build measures it: the best score of every
*negative* text against the freshly built index, then

    min_score = clip(quantile_{NEGATIVE_QUANTILE}(best negative scores) + MARGIN, FLOOR, CEILING)

Negatives are the deployment's own out-of-scope examples when the caller passes them, plus
OFF_TOPIC below (always: a deployment may have no out-of-scope examples). Leave-one-out
scores of each ticket against the others are recorded beside it, for the docs and the admin,
but do not move the bar: in a large index they are near-duplicates (same problem), in a
small one different problems, and nothing at build time says which.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where scores are computed: chat.replies reads UNCALIBRATED in web processes
    import numpy as np

# Measured on the demo bot (docs/retrieval.md, "The ticket-answer threshold"): the 95th
# percentile of off-topic best scores plus 0.03 fell between the highest unrelated question
# and the lowest reworded ticket question.
NEGATIVE_QUANTILE = 0.95
MARGIN = 0.03
# Never offer a ticket on a near-zero match, never demand more than a near-copy.
FLOOR = 0.15
CEILING = 0.90
# Before any build has measured anything (an empty index filled by sync): the policy's old bar.
UNCALIBRATED = 0.80

# Questions that no customer-service ticket answers: chit-chat, trivia, requests for other
# services. Written for this purpose; none is a test question of the demo benchmark.
OFF_TOPIC = (
    "what's the time in Tokyo right now",
    "sing me a song",
    "how tall is the Eiffel tower",
    "who wrote Romeo and Juliet",
    "what is two plus two",
    "recommend a good movie for tonight",
    "how do I cook pasta al dente",
    "is it going to rain this weekend",
    "translate hello into Spanish",
    "what's your favourite colour",
    "how far is the moon from the earth",
    "set an alarm for 7 am",
    "who is the president of Brazil",
    "how many calories are in a banana",
    "what's a good name for a dog",
    "can you help me with my maths homework",
    "where can I watch the match tonight",
    "how do I change a flat tyre on my bike",
    "book me a taxi to the airport",
    "what's the best way to learn the guitar",
    "how old is the universe",
    "are you a robot",
    "do you dream",
    "what is the meaning of life",
    "write a poem about the sea",
    "how do I fix a leaking tap",
    "which planet is the largest",
    "what's the population of Germany",
    "how long should I boil an egg",
    "is coffee bad for your health",
    "play some jazz music",
    "what does photosynthesis mean",
    "how do you say thank you in Japanese",
    "when does summer start",
    "how do I grow tomatoes on a balcony",
    "who painted the Mona Lisa",
    "how do I make a paper plane",
    "my neighbour's dog barks all night",
    "what should I have for dinner",
    "recommend a hotel in Rome",
    "what are the symptoms of the flu",
    "how do I write a cover letter",
    "explain quantum computing simply",
    "how many players are on a football team",
    "what is the speed of light",
    "lol",
    "asdfgh",
)


def best_scores(index: Any, vectors: np.ndarray, *, exclude_self: bool = False) -> np.ndarray:
    """Each vector's best inner product in `index` (a TicketIndex); with `exclude_self`, its second best.

    `exclude_self` is for the index's own tickets (leave-one-out): their best hit is themselves.
    """
    import numpy as np

    if len(vectors) == 0 or len(index) < (2 if exclude_self else 1):
        return np.zeros(0, np.float32)
    scores, _ = index.search_batch(vectors, 2 if exclude_self else 1)
    return np.asarray(scores[:, 1 if exclude_self else 0], np.float32)


def calibrate(negative: np.ndarray, leave_one_out: np.ndarray) -> dict[str, Any]:
    """The threshold from best scores of negatives, with what it was computed from (JSON-ready)."""
    import numpy as np

    if len(negative) == 0:
        return {"min_score": UNCALIBRATED, "rule": "uncalibrated: no tickets or no negatives"}
    raw = float(np.quantile(negative, NEGATIVE_QUANTILE)) + MARGIN
    summary: dict[str, Any] = {
        "min_score": round(float(np.clip(raw, FLOOR, CEILING)), 4),
        "rule": f"clip(q{NEGATIVE_QUANTILE:g}(negative best scores) + {MARGIN:g}, {FLOOR:g}, {CEILING:g})",
        "negatives": int(len(negative)),
        "negative_q50": round(float(np.quantile(negative, 0.5)), 4),
        "negative_q95": round(float(np.quantile(negative, 0.95)), 4),
        "negative_max": round(float(negative.max()), 4),
    }
    if len(leave_one_out):
        summary["leave_one_out_q05"] = round(float(np.quantile(leave_one_out, 0.05)), 4)
        summary["leave_one_out_q50"] = round(float(np.quantile(leave_one_out, 0.5)), 4)
    return summary
