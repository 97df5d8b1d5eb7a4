"""Keyword-only writes, session first, shared by the GraphQL mutations and the CLI.

Every function here runs inside one caller-owned transaction on a session opened for a
principal. It collects input problems in a `Problems` and raises `Invalid` before it
writes, or raises `Invalid` later (e.g. a stale version), which rolls the whole
transaction back.
"""
