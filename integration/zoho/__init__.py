"""Thin clients for the Zoho products we call, and the sandbox that stands in for Zoho here."""
