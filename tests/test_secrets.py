"""Where the credential and the account's secrets show up in everything a sync prints.

Secrets of the account (emulator `Account.secrets()`): SDK keys and webhook signing keys, which
the connector never requests, and the values of secure webhook headers, of integration
parameters and the signing keys of proxy profiles' webhooks, which come inside the webhooks,
integrations and proxy profiles answers and are synced as null.
"""

import pytest

from emulator import DEFAULT_PASSWORD, EmulatorServer, FaultRule
from tests.sync_helpers import BASIC_CREDENTIAL, Scenarios, run, stream_errors

SECRET_ENDPOINTS = {
    "/v1/configs/{configId}/environments/{environmentId}",  # SDK keys
    "/v1/webhooks/{webhookId}/keys",  # webhook signing keys
    "/v1/proxy-profiles/{proxyProfileId}/sdk-keys",  # the SDK keys a Proxy profile serves
}


scenario = Scenarios(__name__)
start_scenarios, outcome = scenario.fixtures()


def output(sync) -> str:
    return sync.result.stdout + sync.result.stderr


def held_in_answers(account) -> list[str]:
    """Secrets that the webhooks, integrations and proxy profiles answers carry."""
    headers = [
        header["value"]
        for webhooks in account.webhooks.values()
        for webhook in webhooks
        for header in webhook["webHookHeaders"]
        if header["isSecure"]
    ]
    parameters = [
        value
        for integrations in account.integrations.values()
        for integration in integrations
        for value in (integration["parameters"] or {}).values()
    ]
    signing_keys = [
        key
        for profiles in account.proxy_profiles.values()
        for profile in profiles
        if (notification := profile["connectionPreferences"]["webhookNotification"])
        for key in (notification["signingKey1"], notification["signingKey2"])
        if key
    ]
    assert headers and parameters and signing_keys
    return headers + parameters + signing_keys


def never_requested(account) -> list[str]:
    """SDK keys and webhook signing keys."""
    keys = [key for pair in account.sdk_keys.values() for key in pair.values() if key]
    keys += [key for pair in account.webhook_signing_keys.values() for key in pair.values() if key]
    assert keys
    return keys


@scenario
def default_level():
    with EmulatorServer() as server:
        return run(server)


@scenario
def debug_level():
    with EmulatorServer() as server:
        return run(server, debug=True)


@scenario.used("default_level")
def test_the_default_level_shows_no_credential_and_no_secret(outcome, cdk):
    sync = outcome("default_level", cdk)
    assert sync.result.returncode == 0
    assert sync.result.records["webhooks"] and sync.result.records["integrations"]
    everything = output(sync)
    assert DEFAULT_PASSWORD not in everything
    assert BASIC_CREDENTIAL not in everything
    secrets = sync.server.account.secrets()
    assert set(secrets) == set(held_in_answers(sync.server.account)) | set(
        never_requested(sync.server.account)
    )
    assert [secret for secret in secrets if secret in everything] == []


@scenario.used("debug_level")
def test_the_debug_level_never_shows_the_password_as_typed(outcome, cdk):
    sync = outcome("debug_level", cdk)
    assert sync.result.returncode == 0
    assert DEFAULT_PASSWORD not in output(sync)


@scenario.used("debug_level")
def test_the_debug_level_shows_the_authorization_header_of_every_request(outcome, cdk):
    """The runtime logs each request's headers at debug, unmasked: the Basic credential (base64
    of username:password, as good as the password) is in every "Making outbound API request"
    line, e.g. {"type": "DEBUG", "message": "Making outbound API request", "data": {...,
    "headers": "{..., 'Authorization': 'Basic ZW11...=='}"}}. Debug logs must be kept private."""
    sync = outcome("debug_level", cdk)
    requests = [
        message
        for message in sync.result.of_type("DEBUG")
        if message["message"] == "Making outbound API request"
    ]
    assert len(requests) >= len(sync.server.request_log) > 0
    header = f"'Authorization': 'Basic {BASIC_CREDENTIAL}'"
    assert all(header in message["data"]["headers"] for message in requests)


@scenario.used("debug_level")
def test_the_debug_level_shows_the_secrets_held_in_raw_answers(outcome, cdk):
    """Raw answers are logged at debug ("Receiving response", `data.body`): secure header values
    and integration parameters appear there, whatever the manifest does to the records. Keys
    the connector never requests do not."""
    sync = outcome("debug_level", cdk)
    everything = output(sync)
    account = sync.server.account
    assert [secret for secret in held_in_answers(account) if secret not in everything] == []
    assert [secret for secret in never_requested(account) if secret in everything] == []
    bodies = " ".join(
        message["data"].get("body", "")
        for message in sync.result.of_type("DEBUG")
        if message["message"] == "Receiving response"
    )
    assert all(secret in bodies for secret in held_in_answers(account))


@scenario.used("default_level", "debug_level")
@pytest.mark.parametrize("name", ["default_level", "debug_level"])
def test_the_connector_never_requests_sdk_keys_or_webhook_signing_keys(outcome, cdk, name):
    log = outcome(name, cdk).server.request_log
    assert log
    assert {entry.template for entry in log} & SECRET_ENDPOINTS == set()


def broken_answer(path: str):
    def run_scenario():
        with EmulatorServer() as server:
            product = server.account.products[0]["productId"]
            rule = FaultRule(path_regex=f"^/v1/products/{product}/{path}$", kind="malformed_json")
            server.faults.add(rule)
            return run(server, streams=[path])

    return run_scenario


scenario.add("broken_webhooks", broken_answer("webhooks"))
scenario.add("broken_integrations", broken_answer("integrations"))


@scenario.used("broken_webhooks", "broken_integrations")
@pytest.mark.parametrize("name", ["broken_webhooks", "broken_integrations"])
def test_a_broken_answer_does_not_show_the_secrets_it_holds_at_the_default_level(
    outcome, cdk, name
):
    """A truncated answer (valid JSON up to half its body) of an endpoint whose answers hold
    secrets. Either the sync fails or it delivers every record; either way no secret of that
    answer may reach the output (a failed request's ERROR log and TRACE quote its raw body)."""
    sync = outcome(name, cdk)
    account = sync.server.account
    stream = name.removeprefix("broken_")
    if sync.result.returncode == 0:
        lists = {"webhooks": account.webhooks, "integrations": account.integrations}
        assert len(sync.result.records[stream]) == sum(map(len, lists[stream].values()))
    else:
        assert [e["stream_descriptor"]["name"] for e in stream_errors(sync.result)] == [stream]
    everything = output(sync)
    assert [secret for secret in held_in_answers(account) if secret in everything] == []
