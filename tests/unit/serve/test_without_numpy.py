"""The JSON and CSV decoders in an image without numpy (numpy is not a dependency of smtoolkit)."""

import subprocess
import sys

PROBE = """
import sys
sys.modules["numpy"] = None  # makes `import numpy` raise ImportError, as in an image without it
from smtoolkit.serve.codecs import text as textcodecs
assert textcodecs.decode_json(b"[[1, 2], [3, 4]]", {}) == [[1, 2], [3, 4]]
assert textcodecs.decode_csv(b"1,2\\n3,\\n", {})[0] == [1.0, 2.0]
try:
    textcodecs.decode_csv(b"1,x\\n", {})
except ValueError as error:
    assert "line 1, column 2" in str(error), error
else:
    raise AssertionError("no error for a non-numeric cell")
"""


def test_decoders_work_without_numpy() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
