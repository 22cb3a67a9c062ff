"""Where the gateway leans on another library's insides, one module per library.

Each module says which internals it uses and why no public way exists; pyproject.toml pins the
library below its next release, and tests/test_pinned_internals.py has a test per internal.
"""
