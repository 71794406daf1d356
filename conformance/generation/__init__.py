"""Requests from schemas: valid ones (``positive``) and ones that break one rule (``negative``)."""
