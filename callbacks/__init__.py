"""Switchboard callbacks: the Flask app Twilio calls."""
