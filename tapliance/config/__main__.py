"""``python -m tapliance.config``: print the configuration reference (Markdown)."""

from tapliance.config.reference import markdown

print(markdown())
