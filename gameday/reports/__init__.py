"""Renderers: plans and results to terminal text, JSON, and (later) Markdown, HTML, JUnit."""
