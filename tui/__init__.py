"""The Textual chat app over the qa core (public API only; qa never imports this)."""
