"""A small notes API whose users log in with Latch.

Run:  LATCH_URL=http://127.0.0.1:8080 uvicorn app:app --port 8000
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from pydantic import BaseModel

from latch_auth import (
    CurrentCaller,
    LatchSettings,
    LatchVerifier,
    LiveCaller,
    SuperuserCaller,
    forbidden,
    install_problem_handlers,
)


class NoteIn(BaseModel):
    text: str


def create_app(settings: LatchSettings | None = None) -> FastAPI:
    app = FastAPI(title="Notes, behind Latch")
    app.state.latch = LatchVerifier(settings or LatchSettings.from_env())
    install_problem_handlers(app)
    notes: dict[uuid.UUID, dict] = {}  # owner id -> note; in memory, for the example

    @app.get("/public")
    def public():
        return {"message": "Anyone may read this."}

    @app.get("/me")
    def me(caller: CurrentCaller):
        return {"id": str(caller.id), "email": caller.email, "tier": caller.tier}

    @app.patch("/notes/{owner_id}")
    def edit_note(owner_id: uuid.UUID, note: NoteIn, caller: CurrentCaller):
        if caller.id != owner_id and not caller.is_superuser:
            raise forbidden("Only the note's owner or a superuser may change it.")
        notes[owner_id] = {"owner_id": str(owner_id), "text": note.text, "edited_by": str(caller.id)}
        return notes[owner_id]

    @app.get("/admin/notes")
    def all_notes(_admin: SuperuserCaller):
        return {"items": list(notes.values())}

    @app.get("/me/live")
    def me_live(caller: LiveCaller):
        """As /me, but a logged-out session is refused at once (one call to Latch)."""
        return {"id": str(caller.id), "email": caller.email, "tier": caller.tier}

    return app


app = create_app()
