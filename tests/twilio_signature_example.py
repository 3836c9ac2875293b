"""Twilio's worked example of ``X-Twilio-Signature`` (its webhook security page): the auth
token, the URL and the POST parameters Twilio signs, and the signature it gives for them."""

from __future__ import annotations

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
EXPECTED = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
