"""Drives the Okta simulator with Okta's official Python SDK (`okta`), unchanged.

Usage: driver.py ORG_URL API_TOKEN APP_ID SERVICE_APP_ID RSA_KEY_DER_PATH KID

Prints one JSON object: what the SDK parsed from each answer (models and OktaAPIError fields).
The SDK refuses http org URLs unless its testing switch is on (OKTA_TESTING_TESTINGDISABLEHTTPSCHECK).
"""

import asyncio
import json
import os
import sys

os.environ["OKTA_TESTING_TESTINGDISABLEHTTPSCHECK"] = "true"

from cryptography.hazmat.primitives import serialization  # noqa: E402
from okta.client import Client  # noqa: E402
from okta.models import OAuth2ClientSecretRequestBody  # noqa: E402


# The SDK answers (result, response, error) or, for operations without a body, sometimes
# (response, error): the error is always last.


def error_of(err):
    if err is None:
        return None
    return {
        "status": getattr(err, "status", None),
        "code": getattr(err, "error_code", None),
        "summary": getattr(err, "error_summary", None),
        "causes": [c.get("errorSummary") for c in getattr(err, "error_causes", []) or []],
        "type": type(err).__name__,
    }


def secret_of(s):
    if s is None:
        return None
    return {
        "id": s.id,
        "status": s.status,
        "client_secret": s.client_secret,
        "secret_hash": s.secret_hash,
        "created": s.created,
        "last_updated": s.last_updated,
        "has_links": s.links is not None,
    }


async def main():
    org, api_token, app_id, service_app, key_path, kid = sys.argv[1:7]
    ssws = Client({"orgUrl": org, "token": api_token, "rateLimit": {"maxRetries": 0}})
    out = {}

    listed, _, err = await ssws.list_o_auth2_client_secrets(app_id)
    out["initial"] = {"secrets": [secret_of(s) for s in listed or []], "error": error_of(err)}

    chosen = "sdk-chosen-value-0123456789abcdefghij"
    created, _, err = await ssws.create_o_auth2_client_secret(
        app_id, OAuth2ClientSecretRequestBody(client_secret=chosen, status="ACTIVE")
    )
    out["create"] = {"secret": secret_of(created), "error": error_of(err), "chosen": chosen}

    third, _, err = await ssws.create_o_auth2_client_secret(
        app_id, OAuth2ClientSecretRequestBody()
    )
    out["third"] = {"secret": secret_of(third), "error": error_of(err)}

    first_id = out["initial"]["secrets"][0]["id"]
    err = (await ssws.delete_o_auth2_client_secret(app_id, first_id))[-1]
    out["delete_active"] = {"error": error_of(err)}

    deactivated, _, err = await ssws.deactivate_o_auth2_client_secret(app_id, first_id)
    out["deactivate"] = {"secret": secret_of(deactivated), "error": error_of(err)}

    new_id = created.id
    _, _, err = await ssws.deactivate_o_auth2_client_secret(app_id, new_id)
    out["deactivate_last_active"] = {"error": error_of(err)}

    got, _, err = await ssws.get_o_auth2_client_secret(app_id, first_id)
    out["get"] = {"secret": secret_of(got), "error": error_of(err)}

    reactivated, _, err = await ssws.activate_o_auth2_client_secret(app_id, first_id)
    out["activate"] = {"secret": secret_of(reactivated), "error": error_of(err)}
    await ssws.deactivate_o_auth2_client_secret(app_id, first_id)

    err = (await ssws.delete_o_auth2_client_secret(app_id, first_id))[-1]
    out["delete_inactive"] = {"error": error_of(err)}

    err = (await ssws.delete_o_auth2_client_secret(app_id, first_id))[-1]
    out["delete_again"] = {"error": error_of(err)}

    listed, _, err = await ssws.list_o_auth2_client_secrets("0oaDoesNotExist000001")
    out["unknown_app"] = {"error": error_of(err)}

    # The SDK's own private_key_jwt flow against the org authorization server.
    with open(key_path, "rb") as f:
        key = serialization.load_der_private_key(f.read(), password=None)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    oauth = Client(
        {
            "orgUrl": org,
            "authorizationMode": "PrivateKey",
            "clientId": service_app,
            "scopes": ["okta.apps.read", "okta.apps.manage"],
            "privateKey": pem,
            "kid": kid,
            "rateLimit": {"maxRetries": 0},
        }
    )
    listed, _, err = await oauth.list_o_auth2_client_secrets(app_id)
    out["oauth_list"] = {"secrets": [secret_of(s) for s in listed or []], "error": error_of(err)}

    print(json.dumps(out))


asyncio.run(main())
