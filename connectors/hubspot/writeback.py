"""Writing values back to HubSpot contacts: the one place Northstar writes to HubSpot.

Used for sales' verdict on a lead (commands/feedback.py passes the contact ids and the property
values; this module knows nothing of verdicts or metrics). Off unless `HUBSPOT_WRITE_LEAD_FEEDBACK`
is 1 or true; the private app then also needs the `crm.objects.contacts.write` scope and the portal
the custom contact properties named in settings (VERDICT_PROPERTY, REJECTION_REASON_PROPERTY).
A refusal (missing scope, missing property, unknown contact) never raises: each contact gets the
reason it was not written, so the verdict stays stored in Northstar and the page says why.
"""
from __future__ import annotations

import os
from typing import Mapping

from hubspot.crm.contacts import BatchInputSimplePublicObjectBatchInput, SimplePublicObjectBatchInput

from . import settings as cfg
from .client import (ClientSettings, HubSpotAuthError, HubSpotClient, HubSpotError, HubSpotRequestError,
                     load_settings)


def write_back_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the setting asks for verdicts to be written to HubSpot (off by default)."""
    raw = (environ if environ is not None else os.environ).get(cfg.WRITE_BACK_ENV, "")
    return raw.strip().lower() in ("1", "true", "yes", "on")


def write_contact_properties(values: Mapping[str, Mapping[str, str | None]], *,
                             settings: ClientSettings | None = None,
                             client: HubSpotClient | None = None) -> dict[str, str | None]:
    """Set properties on HubSpot contacts: {contact id: {property: value}} -> {contact id: None when
    written, else why not}. Batches of 100 (HubSpot's batch update)."""
    if not values:
        return {}
    try:
        client = client or HubSpotClient(settings if settings is not None else load_settings())
    except HubSpotError as exc:
        return dict.fromkeys(values, str(exc))
    api = client.objects["contacts"].batch_api
    out: dict[str, str | None] = {}
    ids = list(values)
    for i in range(0, len(ids), cfg.WRITE_BATCH):
        chunk = ids[i:i + cfg.WRITE_BATCH]
        body = BatchInputSimplePublicObjectBatchInput(inputs=[
            SimplePublicObjectBatchInput(id=cid, properties={k: ("" if v is None else str(v))
                                                             for k, v in values[cid].items()})
            for cid in chunk])
        try:
            answer = client.call(api.update, batch_input_simple_public_object_batch_input=body,
                                 what="contact update", raw=True)
        except HubSpotAuthError as exc:
            why = (f"HubSpot refused the write: the private app lacks the {cfg.CONTACTS_WRITE_SCOPE} scope "
                   "(grant it, or turn the write-back off)" if exc.status == 403 else str(exc))
            out.update(dict.fromkeys(chunk, why))
            continue
        except HubSpotRequestError as exc:
            why = str(exc)
            if "does not exist" in why:
                why += (f" Create the contact properties {cfg.VERDICT_PROPERTY} and {cfg.REJECTION_REASON_PROPERTY} "
                        "(single-line text) in HubSpot, or turn the write-back off.")
            out.update(dict.fromkeys(chunk, why))
            continue
        except HubSpotError as exc:
            out.update(dict.fromkeys(chunk, str(exc)))
            continue
        written = {str(r.get("id")) for r in answer.get("results") or []}
        for cid in chunk:
            out[cid] = None if cid in written else "HubSpot has no such contact (deleted or merged?)"
    return out


__all__ = ["write_back_enabled", "write_contact_properties"]
