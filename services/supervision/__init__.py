"""Supervision orders (督办单): issued by escalation or by an operator or leader, answered by the department."""
