"""Relative URLs kept once built (agora.core.urls.AgoraFlask) are the ones werkzeug would build."""

from __future__ import annotations

from types import SimpleNamespace

from flask import g, url_for


def test_a_kept_url_follows_the_current_space_the_root_and_the_values(app):
    with app.test_request_context("/"):
        g.space = SimpleNamespace(slug="quartier-nord")
        first = url_for("forum.show_topic", topic_id=7)
        assert url_for("forum.show_topic", topic_id=7) == first == "/s/quartier-nord/forum/7/"
        assert url_for("forum.show_topic", topic_id=8) == "/s/quartier-nord/forum/8/"
        assert url_for("forum.show_topic", topic_id=7, page=2) == "/s/quartier-nord/forum/7/?page=2"
        assert url_for("forum.show_topic", topic_id=7, _anchor="reply") == "/s/quartier-nord/forum/7/#reply"
    with app.test_request_context("/"):
        g.space = SimpleNamespace(slug="conseil-citoyen")
        assert url_for("forum.show_topic", topic_id=7) == "/s/conseil-citoyen/forum/7/"
    with app.test_request_context("/", base_url="http://localhost/agora"):
        g.space = SimpleNamespace(slug="conseil-citoyen")
        assert url_for("forum.show_topic", topic_id=7) == "/agora/s/conseil-citoyen/forum/7/"
    with app.test_request_context("/", base_url="https://agora.example.org"):
        g.space = SimpleNamespace(slug="conseil-citoyen")
        assert url_for("forum.show_topic", topic_id=7, _external=True) == (
            "https://agora.example.org/s/conseil-citoyen/forum/7/"
        )


def test_the_store_of_urls_stays_bounded(app, monkeypatch):
    monkeypatch.setattr(app, "url_memo_size", 10)
    with app.test_request_context("/"):
        g.space = SimpleNamespace(slug="quartier-nord")
        for topic_id in range(1, 40):
            assert url_for("forum.show_topic", topic_id=topic_id) == f"/s/quartier-nord/forum/{topic_id}/"
        assert len(app._url_memo) <= 10
