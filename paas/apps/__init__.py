"""The App controller: what a successful Build of an App's branch becomes (DESIGN.md step 3)."""
