"""Whatever Twilio (or an attacker) sends, the store keeps it or says clearly why not."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from switchboard.callbacks.store import Store

any_text = st.text(max_size=300)
fields = st.dictionaries(st.text(min_size=1, max_size=20), any_text, max_size=6)
SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def expected(text: str) -> str | None:
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode() or None


@SETTINGS
@given(body=any_text, sender=any_text, extra=fields)
def test_any_message_text_is_stored(store: Store, body: str, sender: str, extra: dict) -> None:
    sid = "SM" + uuid.uuid4().hex
    store.record_message({**extra, "MessageSid": sid, "Body": body, "From": sender})
    message = store.get_message(sid)
    assert message is not None
    assert message["body"] == expected(body)
    assert message["from"] == expected(sender)


@SETTINGS
@given(status=any_text.filter(bool), sequence=any_text, token=st.none() | any_text, extra=fields)
def test_any_callback_is_stored_exactly_once(
    store: Store, status: str, sequence: str, token: str | None, extra: dict
) -> None:
    sid = "CA" + uuid.uuid4().hex
    token = None if token is None else sid + token  # tokens are unique across all callbacks
    params = {**extra, "CallSid": sid, "CallStatus": status, "SequenceNumber": sequence}
    assert store.record_call_status(params, token) is True
    assert store.record_call_status(params, token) is False
    [callback] = store.status_callbacks(sid)
    assert callback["params"] == params
    assert store.get_call(sid) is not None


@SETTINGS
@given(
    data=st.dictionaries(
        any_text,
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**53), 2**53) | any_text,
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3)
            ),
            max_leaves=10,
        ),
        max_size=5,
    ),
    caller=any_text.filter(str.strip),
)
def test_any_json_session_round_trips(store: Store, data: dict, caller: str) -> None:
    store.save_sms_session(caller, "+15005550001", data)
    assert store.load_sms_session(caller, "+15005550001") == data
