"""The 12345 hotline channel: signed work orders at /channels/hotline and the daily file import."""
