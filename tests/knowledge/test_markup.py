"""Curated answers: a small safe HTML subset for the widget, plain text for everything else."""

from knowledge.markup import answer_text, sanitize_answer


def test_it_keeps_allowed_tags_and_makes_links_safe():
    assert sanitize_answer('<b>Hi</b> <a href="https://x.example" onclick="x()">x</a>') == (
        '<b>Hi</b> <a href="https://x.example" target="_blank" rel="noopener noreferrer nofollow">x</a>'
    )


def test_it_drops_scripts_images_and_javascript_links():
    assert sanitize_answer('<img src=x onerror=alert(1)><script>alert(1)</script><a href="javascript:alert(1)">x</a>ok') == (
        '<a target="_blank" rel="noopener noreferrer nofollow">x</a>ok'
    )


def test_answer_text_is_plain():
    assert answer_text("<p>a &amp; b</p><ul><li>one</li></ul>") == "a & b\none"
