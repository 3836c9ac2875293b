"""Twilio Studio flows on this server: flow definitions exactly as Studio exports them, checked
before any caller meets them, run widget by widget with their executions in the store.

- :mod:`~switchboard.callbacks.studio.definition`: a flow as loaded (:class:`Flow`), from a
  file of the flows folder.
"""
