"""Kafka topic names. One topic carries every case event, keyed by case id."""

CASE_EVENTS = "gridcase.case-events"
DEAD_LETTERS = "gridcase.dead-letters"

ALL_TOPICS = (CASE_EVENTS, DEAD_LETTERS)
