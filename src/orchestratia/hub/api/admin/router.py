"""The admin API's router (prefix ``/api/admin``): log in, then everything else behind an admin
session (``auth.current_admin``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from orchestratia.hub.api.admin import (agents, auth, budgets, groups, interventions, pipelines, replies, stream,
                                        task_actions, tasks, tokens)
from orchestratia.hub.api.responses import OrjsonResponse
from orchestratia.hub.auth import current_admin

PREFIX = "/api/admin"


def router() -> APIRouter:
    api = APIRouter(prefix=PREFIX, tags=["admin"], default_response_class=OrjsonResponse)
    api.add_api_route("/login", auth.login, methods=["POST"])
    authed = APIRouter(dependencies=[Depends(current_admin)], default_response_class=OrjsonResponse)
    authed.add_api_route("/logout", auth.logout, methods=["POST"], status_code=204, response_class=Response)
    authed.add_api_route("/me", auth.me, methods=["GET"])
    authed.add_api_route("/tokens", tokens.create_token, methods=["POST"], status_code=201)
    authed.add_api_route("/tokens", tokens.list_tokens, methods=["GET"])
    authed.add_api_route("/tokens/{token_id}/revoke", tokens.revoke_token, methods=["POST"])
    for module in (agents, tasks, interventions, stream, replies, task_actions, groups, pipelines, budgets):
        module.add_routes(authed)
    api.include_router(authed)
    return api
