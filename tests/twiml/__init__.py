"""Tests for callbacks.twiml: the TwiML builder and parse_twiml."""
