"""Drives the Entra ID simulator's Graph API with Microsoft's official SDK (`msgraph-sdk`), unchanged.

Usage: driver.py GRAPH_URL TOKEN OBJECT_ID APP_ID FORBIDDEN_OBJECT_ID POLICY_APP_OBJECT_ID

Only the configuration differs from production use: the request adapter's base URL points at the
simulator, and a static bearer token stands in for azure-identity (whose providers insist on https
and real Microsoft hosts). Prints one JSON object with what the SDK parsed.
"""

import asyncio
import json
import sys
import uuid
from datetime import datetime, timedelta, timezone

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.applications.item.add_password.add_password_post_request_body import (
    AddPasswordPostRequestBody,
)
from msgraph.generated.applications.item.remove_password.remove_password_post_request_body import (
    RemovePasswordPostRequestBody,
)
from msgraph.generated.applications.item.application_item_request_builder import (
    ApplicationItemRequestBuilder,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_credential import PasswordCredential


class StaticToken(AccessTokenProvider):
    def __init__(self, token):
        self.token = token

    async def get_authorization_token(self, uri, additional_authentication_context=None):
        return self.token

    def get_allowed_hosts_validator(self):
        return AllowedHostsValidator([])


def cred_of(c):
    return {
        "key_id": str(c.key_id) if c.key_id else None,
        "display_name": c.display_name,
        "hint": c.hint,
        "secret_text": c.secret_text,
        "end": c.end_date_time.isoformat() if c.end_date_time else None,
        "start": c.start_date_time.isoformat() if c.start_date_time else None,
    }


def error_of(e):
    return {
        "status": e.response_status_code,
        "code": e.error.code if e.error else None,
        "message": e.error.message if e.error else None,
    }


async def attempt(coro):
    try:
        return {"value": await coro, "error": None}
    except ODataError as e:
        return {"value": None, "error": error_of(e)}


async def main():
    graph, token, object_id, app_id, forbidden_id, policy_id = sys.argv[1:7]
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(token)))
    adapter.base_url = f"{graph}/v1.0"
    client = GraphServiceClient(request_adapter=adapter)
    app = client.applications.by_application_id(object_id)
    out = {}

    # The test makes this first call meet a 429 with Retry-After: the SDK's retry handler waits.
    got = await app.get()
    out["get"] = {"id": got.id, "app_id": got.app_id, "display_name": got.display_name,
                  "passwords": [cred_of(c) for c in got.password_credentials or []]}

    by_app_id = await client.applications_with_app_id(app_id).get()
    out["get_by_app_id"] = {"id": by_app_id.id}

    end = datetime.now(timezone.utc) + timedelta(days=30)
    added = await app.add_password.post(AddPasswordPostRequestBody(
        password_credential=PasswordCredential(display_name="agentcore-rotator contract", end_date_time=end)))
    out["add"] = cred_of(added)

    selected = await app.get(request_configuration=RequestConfiguration(
        query_parameters=ApplicationItemRequestBuilder.ApplicationItemRequestBuilderGetQueryParameters(
            select=["id", "passwordCredentials"])))
    out["list"] = {"display_name": selected.display_name,
                   "passwords": [cred_of(c) for c in selected.password_credentials or []]}

    await app.remove_password.post(RemovePasswordPostRequestBody(key_id=added.key_id))
    after = await app.get()
    out["after_remove"] = [cred_of(c) for c in after.password_credentials or []]

    r = await attempt(app.remove_password.post(RemovePasswordPostRequestBody(key_id=uuid.uuid4())))
    out["remove_unknown"] = r["error"]
    r = await attempt(client.applications.by_application_id(str(uuid.uuid4())).get())
    out["not_found"] = r["error"]
    r = await attempt(client.applications.by_application_id(forbidden_id).add_password.post(
        AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="x"))))
    out["forbidden"] = r["error"]
    r = await attempt(client.applications.by_application_id(policy_id).add_password.post(
        AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="x"))))
    out["policy"] = r["error"]

    throttled = await app.get()
    out["after_throttle"] = {"id": throttled.id}

    print(json.dumps(out))


asyncio.run(main())
