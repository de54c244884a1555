"""The owner-or-superuser rule and the superuser-only route, with real Latch users."""

from __future__ import annotations

import uuid

from tests.helpers import assert_problem


def test_the_owner_may_edit_their_note(client, alice):
    r = client.patch(f"/notes/{alice.user_id}", headers=alice.auth, json={"text": "mine"})
    assert r.status_code == 200, r.text
    assert r.json() == {"owner_id": alice.user_id, "text": "mine", "edited_by": alice.user_id}


def test_another_user_may_not_edit_it(client, alice, bob):
    r = client.patch(f"/notes/{alice.user_id}", headers=bob.auth, json={"text": "bob was here"})
    assert_problem(r, 403, "forbidden")


def test_the_owner_id_is_compared_as_a_uuid(client, alice):
    r = client.patch(f"/notes/{alice.user_id.upper()}", headers=alice.auth, json={"text": "MINE"})
    assert r.status_code == 200, r.text


def test_a_superuser_may_edit_anyones_note(client, admin, bob):
    r = client.patch(f"/notes/{bob.user_id}", headers=admin.auth, json={"text": "moderated"})
    assert r.status_code == 200, r.text
    assert r.json()["edited_by"] == admin.user_id


def test_a_superuser_may_edit_a_note_of_an_unknown_user(client, admin):
    r = client.patch(f"/notes/{uuid.uuid4()}", headers=admin.auth, json={"text": "x"})
    assert r.status_code == 200, r.text


def test_the_admin_route_refuses_a_regular_user(client, alice):
    assert_problem(client.get("/admin/notes", headers=alice.auth), 403, "forbidden")


def test_the_admin_route_answers_a_superuser(client, admin, alice):
    client.patch(f"/notes/{alice.user_id}", headers=alice.auth, json={"text": "listed"})
    r = client.get("/admin/notes", headers=admin.auth)
    assert r.status_code == 200, r.text
    assert {"owner_id": alice.user_id, "text": "listed", "edited_by": alice.user_id} in r.json()["items"]


def test_authorization_needs_a_token_first(client, alice):
    assert_problem(client.get("/admin/notes"), 401, "unauthenticated")
    assert_problem(client.patch(f"/notes/{alice.user_id}", json={"text": "x"}), 401, "unauthenticated")
