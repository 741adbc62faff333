"""The digest's and alerts' secrets: the SMTP password and the webhook URLs are masked by the one
function every log line, page and output goes through (store.secrets.mask)."""
from __future__ import annotations

from store.secrets import mask, notification_secrets, secret_values

HOOK = "https://hooks.slack.com/services/T0AAA/B0BBB/XyZsecretTokenValue"


def test_smtp_password_and_webhooks_from_env_are_masked(monkeypatch):
    monkeypatch.setenv("NORTHSTAR_SMTP_URL", "smtp://digest%40acme.com:Pa55-w0rd-x@smtp.acme.com:587")
    monkeypatch.setenv("NORTHSTAR_DIGEST_WEBHOOKS", f"{HOOK}, teams+https://chat.acme.com/hooks/AbCdEf123456")
    monkeypatch.setenv("NORTHSTAR_ALERT_WEBHOOKS", "slack+http://127.0.0.1:9000/alerts/0123456789")
    values = secret_values({})
    assert "Pa55-w0rd-x" in values and HOOK in values
    text = (f"posting to {HOOK} failed; path /services/T0AAA/B0BBB/XyZsecretTokenValue; "
            "login Pa55-w0rd-x refused; https://chat.acme.com/hooks/AbCdEf123456; http://127.0.0.1:9000/alerts/0123456789")
    out = mask(text)
    for secret in ("Pa55-w0rd-x", "XyZsecretTokenValue", "AbCdEf123456", "0123456789"):
        assert secret not in out, out


def test_secrets_file_keys_are_masked(monkeypatch):
    for var in ("NORTHSTAR_SMTP_URL", "NORTHSTAR_DIGEST_WEBHOOKS", "NORTHSTAR_ALERT_WEBHOOKS"):
        monkeypatch.delenv(var, raising=False)
    found = notification_secrets({"northstar": {"smtp_url": "smtps://u:T0ml-pass@mail.acme.com",
                                                "digest_webhooks": [HOOK], "alert_webhooks": "https://x.example/hook/abcdefgh"}})
    assert "T0ml-pass" in found and HOOK in found and "https://x.example/hook/abcdefgh" in found
    assert notification_secrets({}) == []
