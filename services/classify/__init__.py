"""Free-text classification of reports (category and urgency), offline, CPU only."""
