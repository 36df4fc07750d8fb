"""The self-setup guide served at /ORCHESTRATIA.md."""
