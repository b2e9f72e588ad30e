"""SPEC §4: settings from the environment and the YAML file; every bad value stops with one
sentence that names it, and no secret appears in any message."""

import pytest
from pydantic import ValidationError

from conversion_sync.config import (
    SyncSettings,
    load_sync_settings,
    reveal,
    salesforce_settings_from_env,
    settings_from_mapping,
)
from conversion_sync.errors import ConfigError
from conversion_sync.sync.fields import Preference

URL = "https://example.my.salesforce.com"


def test_defaults():
    settings = load_sync_settings({})
    assert (settings.lookback_seconds, settings.settle_seconds) == (300, 5)
    assert settings.contact_mapping("title").preference is Preference.PREFER_SALESFORCE_UNLESS_EMPTY
    assert settings.contact_mapping("email").salesforce == {"Lead": "Email", "Contact": "Email"}


def test_yaml_overrides_and_environment_overrides_yaml(tmp_path):
    path = tmp_path / "sync.yaml"
    path.write_text("""
lookback_seconds: 600
settle_seconds: 5
fields:
  title: {salesforce: Title, preference: two_way}
  phone: {salesforce: {Lead: Phone, Contact: MobilePhone}, preference: always_prefer_salesforce}
  score: {salesforce: {Lead: Score__c}}
custom_fields: [score]
""")
    settings = load_sync_settings({"CONVERSION_SYNC_CONFIG": str(path), "CONVERSION_SYNC_SETTLE_SECONDS": "9"})
    assert settings.lookback_seconds == 600 and settings.settle_seconds == 9
    assert settings.contact_mapping("title").preference is Preference.TWO_WAY
    assert settings.contact_mapping("phone").salesforce == {"Lead": "Phone", "Contact": "MobilePhone"}
    assert "Score__c" in settings.salesforce_fields("Lead")
    assert "Score__c" not in settings.salesforce_fields("Contact")


@pytest.mark.parametrize("content, named", [
    ("lookbak_seconds: 3", "lookbak_seconds"),
    ("fields:\n  tittle: {salesforce: Title}", "tittle"),
    ("fields:\n  title: {salesforce: Title, preference: sometimes}", "sometimes"),
    ("fields:\n  title: {salesforce: Title, prefrence: two_way}", "prefrence"),
    ("fields:\n  title: {salesforce: {Opportunity: Title}}", "Opportunity"),
    ("lookback_seconds: -5", "lookback_seconds"),
    ("api_budget_share: 2", "api_budget_share"),
    ("new_record_object: Account", "new_record_object"),
    ("lookback_seconds: [1", "line"),
])
def test_a_bad_setting_is_refused_with_a_sentence_naming_it(tmp_path, content, named):
    path = tmp_path / "sync.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as error:
        load_sync_settings({"CONVERSION_SYNC_CONFIG": str(path)})
    assert named in str(error.value)
    assert "\n" not in str(error.value)


def test_bad_environment_numbers_and_missing_file():
    with pytest.raises(ConfigError, match="CONVERSION_SYNC_LOOKBACK_SECONDS"):
        load_sync_settings({"CONVERSION_SYNC_LOOKBACK_SECONDS": "five minutes"})
    with pytest.raises(ConfigError, match="not a readable file"):
        load_sync_settings({"CONVERSION_SYNC_CONFIG": "/nonexistent/sync.yaml"})


@pytest.mark.parametrize("env, says", [
    ({}, "Salesforce is not configured: set SALESFORCE_INSTANCE_URL"),
    ({"SALESFORCE_INSTANCE_URL": "http://example.com"}, "must be an https:// address"),
    ({"SALESFORCE_INSTANCE_URL": URL}, "Set SALESFORCE_ACCESS_TOKEN, or SALESFORCE_CLIENT_ID"),
    ({"SALESFORCE_INSTANCE_URL": URL, "SALESFORCE_CLIENT_ID": "id"}, "SALESFORCE_CLIENT_SECRET is not"),
    ({"SALESFORCE_INSTANCE_URL": URL, "SALESFORCE_CLIENT_SECRET": "s3cr3t-value"}, "SALESFORCE_CLIENT_ID is not"),
    ({"SALESFORCE_INSTANCE_URL": URL, "SALESFORCE_USERNAME": "u@example.com"}, "SALESFORCE_PASSWORD is not"),
    ({"SALESFORCE_INSTANCE_URL": URL, "SALESFORCE_ACCESS_TOKEN": "t0k3n-value", "SALESFORCE_CA_BUNDLE": "/no/ca.pem"},
     "SALESFORCE_CA_BUNDLE names /no/ca.pem"),
])
def test_salesforce_settings_errors(env, says, tmp_path):
    with pytest.raises(ConfigError) as error:
        salesforce_settings_from_env({**env, "CONVERSION_SYNC_DATA_DIR": str(tmp_path)})
    message = str(error.value)
    assert says in message
    for secret in ("s3cr3t-value", "t0k3n-value"):
        assert secret not in message


def test_auth_modes():
    assert salesforce_settings_from_env({"SALESFORCE_INSTANCE_URL": URL, "SALESFORCE_ACCESS_TOKEN": "t"}).auth_mode == "access_token"
    assert salesforce_settings_from_env({"SALESFORCE_INSTANCE_URL": URL, "SALESFORCE_CLIENT_ID": "i",
                                         "SALESFORCE_CLIENT_SECRET": "s"}).auth_mode == "client_credentials"
    assert salesforce_settings_from_env({"SALESFORCE_INSTANCE_URL": URL, "SALESFORCE_USERNAME": "u",
                                         "SALESFORCE_PASSWORD": "p"}).auth_mode == "soap_password"
    settings = salesforce_settings_from_env({"SALESFORCE_INSTANCE_URL": URL, "SALESFORCE_CLIENT_ID": "i",
                                             "SALESFORCE_CLIENT_SECRET": "sec-ret-1", "SALESFORCE_USERNAME": "u",
                                             "SALESFORCE_PASSWORD": "pass-word-2", "SALESFORCE_SECURITY_TOKEN": "tok-3"})
    assert settings.auth_mode == "password"
    assert not any(secret in repr(settings) for secret in ("sec-ret-1", "pass-word-2", "tok-3"))


SANDBOX_ENV = "SALESFORCE_INSTANCE_URL=https://127.0.0.1:8443\nSALESFORCE_CLIENT_ID=cid\nSALESFORCE_CLIENT_SECRET=sec\n"


def test_the_sandbox_orgs_env_file_is_never_read_unless_named(tmp_path):
    (tmp_path / "sandbox").mkdir()
    (tmp_path / "sandbox" / "sandbox.env").write_text(SANDBOX_ENV)
    with pytest.raises(ConfigError) as error:
        salesforce_settings_from_env({"CONVERSION_SYNC_DATA_DIR": str(tmp_path)})
    assert str(error.value) == (
        "Salesforce is not configured: set SALESFORCE_INSTANCE_URL to your org's URL and its login "
        "(SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET, SALESFORCE_USERNAME and SALESFORCE_PASSWORD, or "
        "SALESFORCE_ACCESS_TOKEN), or name an env file of them in CONVERSION_SYNC_ENV_FILE (for the demo's "
        "sandbox org: data/sandbox/sandbox.env).")


def test_an_env_file_named_in_conversion_sync_env_file_is_used(tmp_path):
    env_file = tmp_path / "org.env"
    env_file.write_text("# written by the sandbox org\n" + SANDBOX_ENV + "CONVERSION_DATABASE_URL=sqlite:///x.db\n")
    settings = salesforce_settings_from_env({"CONVERSION_SYNC_ENV_FILE": str(env_file)})
    assert settings.instance_url == "https://127.0.0.1:8443" and settings.auth_mode == "client_credentials"
    # A variable set in the environment wins over the file.
    explicit = salesforce_settings_from_env({"CONVERSION_SYNC_ENV_FILE": str(env_file), "SALESFORCE_INSTANCE_URL": URL})
    assert explicit.instance_url == URL and explicit.client_id == "cid"


def test_a_named_env_file_that_is_missing_is_one_sentence(tmp_path):
    with pytest.raises(ConfigError) as error:
        salesforce_settings_from_env({"CONVERSION_SYNC_ENV_FILE": str(tmp_path / "nope.env")})
    assert str(error.value) == (f"CONVERSION_SYNC_ENV_FILE names {tmp_path / 'nope.env'}, which is not a readable "
                                "env file (the demo's sandbox org writes data/sandbox/sandbox.env when it starts).")


def test_credentials_never_print(capsys):
    """Secrets are SecretStr: repr, str, f-strings, dumps and JSON show stars, never the value."""
    settings = salesforce_settings_from_env({"SALESFORCE_INSTANCE_URL": URL, "SALESFORCE_CLIENT_ID": "i",
                                             "SALESFORCE_CLIENT_SECRET": "sec-ret-1", "SALESFORCE_USERNAME": "u",
                                             "SALESFORCE_PASSWORD": "pass-word-2", "SALESFORCE_SECURITY_TOKEN": "tok-3",
                                             "SALESFORCE_ACCESS_TOKEN": "acc-ess-4"})
    print(settings, f"{settings!r}", settings.model_dump(), settings.model_dump_json())
    printed = capsys.readouterr().out
    assert "**********" in printed
    for secret in ("sec-ret-1", "pass-word-2", "tok-3", "acc-ess-4"):
        assert secret not in printed
    assert reveal(settings.client_secret) == "sec-ret-1" and reveal(None) == ""


def test_the_settings_model_refuses_what_the_file_would():
    """The model itself (not only the YAML reader) forbids unknown settings and unlisted choices."""
    with pytest.raises(ValidationError):
        SyncSettings(lookbak_seconds=3)
    with pytest.raises(ValidationError):
        SyncSettings(new_record_object="Account")
    with pytest.raises(ValidationError):
        SyncSettings(pull_leads="yes")
    with pytest.raises(ValidationError):
        load_sync_settings({}).lookback_seconds = 5      # frozen: a run cannot change its settings


@pytest.mark.parametrize("raw, sentence", [
    ({"pull_leads": "yes"}, "f.yaml: pull_leads must be true or false (got 'yes')."),
    ({"default_entry_sync": "later"}, "f.yaml: default_entry_sync must be immediate or skip (got 'later')."),
    ({"api_budget_share": True}, "f.yaml: api_budget_share must be a number above 0 and at most 1, like 0.8 (got True)."),
    ({"apply_batch_size": 0}, "f.yaml: apply_batch_size must be at least 1 (got 0)."),
    ({"settle_seconds": 1.5}, "f.yaml: settle_seconds must be a whole number (got 1.5)."),
    ({"external_id_field": "bad field"}, "f.yaml: external_id_field must be a Salesforce field name or null (got 'bad field')."),
    ({"custom_fields": ["title"]}, "f.yaml: custom field 'title' is already a standard contact field."),
    ({"custom_fields": ["Score"]}, "f.yaml: custom field name 'Score' must be lower_case letters, digits and underscores."),
    ({"custom_fields": "score"}, "f.yaml: custom_fields must be a list of field names (got 'score')."),
])
def test_pydantic_errors_become_the_same_one_sentence(raw, sentence):
    with pytest.raises(ConfigError) as error:
        settings_from_mapping(raw, source="f.yaml")
    assert str(error.value) == sentence
