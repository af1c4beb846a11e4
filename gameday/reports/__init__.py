"""Renderers: results to terminal text, Markdown, HTML, JUnit XML, JSON and Prometheus metrics
(text, textfile, Pushgateway); stored history rows to a table or JSON; plans to text.

Results in, text out: the caller reads the history store and hands over what a report shows
of it (a run's result, the trend, the run counts, the rows).
"""
