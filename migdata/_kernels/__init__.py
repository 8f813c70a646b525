"""Performance kernels: shortcuts that equal a plain pandas/numpy operation, kept apart from the
modules that define rules (the profile engine, validation) so that those read as rules.

Each kernel names in its docstring the plain operation it equals, and ``tests/test_kernels.py``
checks it against that operation on seeded random inputs (missing values, repeats, sorted and
shuffled orders). A kernel never decides what data means: callers pass the rule (how a code is
written as text, what a case id is) and get back what the plain operation would give, faster.

- :mod:`~migdata._kernels.text`: Arrow string columns built from codes and distinct values,
  text membership, zero-padded ids written as bytes.
- :mod:`~migdata._kernels.keys`: factorisation of small integer codes, first row per case,
  household-id codes for the key checks, duplicate (id, line) pairs.
- :mod:`~migdata._kernels.parallel`: a map over two threads that returns what ``map`` returns.

One package for the profile engine and validation because they share the Arrow text helpers;
it imports only numpy, pandas and pyarrow, so (like :mod:`migdata.errors`) it sits outside the
read -> map -> validate -> store -> estimate -> publish chain and any step may use it.
"""
