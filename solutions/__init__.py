"""Reference solutions to the course's exercises, one module per chapter (``NN_<name>.py``).

Each module defines ``ANSWERS``: exercise id -> the answer that
``zfkeras.exercises.check(id, answer)`` accepts (a number, a string or a function). Load one
with ``importlib.import_module("solutions.04_deconvnet")`` from the repository root.
"""
