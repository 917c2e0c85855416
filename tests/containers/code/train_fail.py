"""Training script that fails the way user code does: an exception after some output."""

print("about to fail")
raise ValueError("bad value: 42")
