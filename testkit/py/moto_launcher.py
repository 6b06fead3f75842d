"""Starts moto on an ephemeral loopback port for the Rust testkit.

Prints one JSON line {"port": N, "rotation_lambda_arn": "..."} once ready, then serves until its
stdin closes (the parent test process exited), so no moto outlives the tests that started it.
"""
import io
import json
import os
import sys
import zipfile

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3  # noqa: E402  (moto depends on it)
from moto.secretsmanager import models as sm_models  # noqa: E402
from moto.secretsmanager import responses as sm_responses  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

# moto accepts CreateSecret's `Type` (a managed external secret's partner integration, e.g.
# OktaOAuthClientSecret) but drops it; keep it and return it from DescribeSecret and ListSecrets,
# as Secrets Manager does, so managed external secrets can be tested. Nothing else changes.
_create_secret = sm_responses.SecretsManagerResponse.create_secret
_to_dict = sm_models.FakeSecret.to_dict


def _create_secret_keeping_type(self):
    out = _create_secret(self)
    partner_type = self._get_param("Type")
    if partner_type:
        self.backend.describe_secret(json.loads(out)["ARN"]).partner_type = partner_type
    return out


def _to_dict_with_type(self):
    dct = _to_dict(self)
    if getattr(self, "partner_type", None):
        dct["Type"] = self.partner_type
    return dct


sm_responses.SecretsManagerResponse.create_secret = _create_secret_keeping_type
sm_models.FakeSecret.to_dict = _to_dict_with_type

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
port = server._server.server_port  # the OS-chosen port
endpoint = f"http://127.0.0.1:{port}"

# Secrets Manager only sets up a rotation (AWSPENDING placeholder, rotation enabled) when
# RotateSecret names a Lambda that exists; moto never runs it, the conductor invokes our handler.
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
role = iam.create_role(
    RoleName="rotation-placeholder",
    AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
)["Role"]["Arn"]
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("bootstrap", "#!/bin/sh\n")
lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1")
fn = lam.create_function(
    FunctionName="agentcore-rotator-placeholder",
    Runtime="provided.al2023",
    Role=role,
    Handler="bootstrap",
    Code={"ZipFile": buf.getvalue()},
)["FunctionArn"]

print(json.dumps({"port": port, "rotation_lambda_arn": fn}), flush=True)
# The parent stops reading stdout after the ready line; anything moto prints later (it reports
# failed Lambda invocations there) must not hit a closed pipe and kill the request thread.
os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
sys.stdin.read()
server.stop()
